"""Pure maths over arrays: Bradley–Terry, Davidson, online Elo, intervals, style control.

Every function here takes numpy arrays (or the small records defined alongside) and
returns arrays; no file I/O, no printing. Ratings are fitted on the natural-log scale
(``theta``) and converted to the arena scale by :func:`arena.ratings.scale.to_points`.
"""
