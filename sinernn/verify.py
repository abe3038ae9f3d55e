def verify(): pass
class VerifyReport: pass
