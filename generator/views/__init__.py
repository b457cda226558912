"""The browser's pages of one team (see pixdash.accounts.access): the generator
(generate.py), jobs and side-by-side comparisons (jobs.py), the gallery and image actions
(gallery.py), the models page (models.py) and the activity log (activity.py)."""
