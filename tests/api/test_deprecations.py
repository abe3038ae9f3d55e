"""Every old spelling still works for one minor release, with a DeprecationWarning that names the
new one (docs/changes.md lists them; sinernn/_compat.py serves them)."""

import importlib
import sys
import warnings

import numpy as np
import pytest
import torch

import sinernn
from sinernn import _compat

# old module -> (a name it had, where that name lives now)
OLD_MODULES = {
    "sinernn.trainer": ("OneModelOnGpuWarning", "sinernn.engine.errors"),
    "sinernn.many": ("check_models", "sinernn.engine.checks"),
    "sinernn.checks": ("check_lr", "sinernn.engine.checks"),
    "sinernn.reference": ("train", "sinernn.engine.reference"),
    "sinernn._extension": ("load", "sinernn._native.loader"),
    "sinernn._native_build": ("sources_digest", "sinernn._native.build"),
    "sinernn.cli": ("main", "sinernn.tools.cli"),
    "sinernn.verification": ("verify", "sinernn.tools.verification"),
    "sinernn.benchmarking": ("flops_per_step", "sinernn.tools.benchmarking"),
    "sinernn.baselines": ("BASELINES", "sinernn.tools.baselines"),
    "sinernn.sweep": ("SweepSpec", "sinernn.tools.sweep"),
    "sinernn.distributed": ("train_sharded", "sinernn.tools.distributed"),
    "sinernn.plots": ("plot_sweep", "sinernn.tools.plots"),
}


def test_the_list_here_is_the_list_served():
    assert set(OLD_MODULES) == set(_compat.MODULES)


@pytest.mark.parametrize("old", sorted(OLD_MODULES))
def test_an_old_module_path_imports_with_a_warning_naming_the_new_one(old):
    name, home = OLD_MODULES[old]
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated .*use {_compat.MODULES[old][0][0]}"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(home), name)
    sys.modules.pop(old, None)
    short = old.split(".")[1]
    if short in vars(sinernn):
        delattr(sinernn, short)  # set by the import above
    with pytest.warns(DeprecationWarning):  # attribute access from the package works too
        assert getattr(getattr(sinernn, short), name) is getattr(importlib.import_module(home), name)


def test_renamed_names_in_old_modules():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the import's own warning: tested above
        from sinernn import many, trainer
    from sinernn.engine import backends, interrupts
    assert trainer.resolve_backend is backends.resolve and trainer._Interrupts is interrupts.Interrupts
    assert many.resolve_backend is backends.resolve_many and many.BACKENDS == backends.MANY_BACKENDS
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        trainer.nothing


def test_load_series(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("v\n1\n2\n3\n")
    with pytest.warns(DeprecationWarning, match=r"sinernn.load_series is deprecated .*sinernn.series.as_table"):
        values = sinernn.load_series(path)
    assert values.tolist() == [1.0, 2.0, 3.0]
    with pytest.warns(DeprecationWarning, match="sinernn.data.load_series"):
        assert sinernn.data.load_series(path).tolist() == [1.0, 2.0, 3.0]


def test_series_pairs_old_name():
    values = np.arange(12.0).reshape(4, 3)
    with pytest.warns(DeprecationWarning, match="sinernn.series.pairs is deprecated .*sinernn.series_pairs"):
        x, y = sinernn.series.pairs(values, [0, 2], [1], torch.float64)
    x2, y2 = sinernn.series_pairs(values, torch.float64, inputs=[0, 2], targets=[1])
    assert torch.equal(x, x2) and torch.equal(y, y2) and x.shape == (3, 2) and y.shape == (3, 1)


def test_register_fake_kernels_old_name():
    with pytest.warns(DeprecationWarning, match="sinernn.ops.register_fake_kernels"):
        sinernn.ops.register_fake_kernels()


def test_the_warning_points_at_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sinernn.series.pairs(np.arange(3.0), None, None, torch.float64)
    assert caught and caught[0].filename == __file__


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'sinernn' has no attribute 'no_such_thing'"):
        sinernn.no_such_thing
