"""tingfeng's engagement stage: draft actions with evidence, review them, schedule the stages.

Nothing here sends anything: drafts wait in the review queue until a human approves the exact
text (``bot.review``). ``bot.cli`` is the only module that prints or sets exit codes.
"""
