"""Rate limits shared by every api replica."""
