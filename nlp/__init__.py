"""Text -> labels: normalize, segment, then sentiment, interests, intents and keywords.

Heavy resources (dictionaries, OpenCC, the IDF table) load lazily, once, on first use, so that
``import nlp`` stays cheap. The stage entry point is ``nlp.label.run``.
"""
