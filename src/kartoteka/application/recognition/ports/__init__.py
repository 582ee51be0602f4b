"""What the recognition use cases need from outside.

Tasks and their store, the models, progress and cancellation, documents, search, exports.
"""
