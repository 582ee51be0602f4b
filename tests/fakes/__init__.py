"""Small in-memory implementations of the application's ports, shared by every kind of test.

One module per context, plus ``shared`` for the ports every context uses (storage, the clock, the
image inspector). Each fake is one implementation of its port; a test that needs a variant
subclasses it or sets one of its knobs, rather than writing a second fake of the same port.
"""
