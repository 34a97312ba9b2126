"""A local Weibo-compatible platform: a seeded world served over the m.weibo.cn JSON shapes.

Kept light: importing the package builds nothing. ``world.build_world`` makes the data,
``server.make_server`` serves it, ``process.SandboxProcess`` runs it as a subprocess.
"""
