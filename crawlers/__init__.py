"""tingfeng's collection stage and the shared core (schema, settings, store).

Kept light on purpose: ``from crawlers.models import Post`` must not import Scrapy.
"""
