"""Gallery paging with 100,000 images in one team: first page vs a deep page.

    .venv/bin/python bench/bench_gallery.py                      # SQLite in a temp dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pixdash_h4 \
        .venv/bin/python bench/bench_gallery.py

Creates (once per database) a team with 100k OutputImage rows via bulk_create (no files),
then times generator.gallery.page() at page 1 and ~99,950 images deep (keyset, row-value
comparison), next to the OFFSET query it replaces, plus a filtered deep page.
"""

import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PIXDASH_DEBUG", "1")
os.environ.setdefault("PIXDASH_DATA_DIR", tempfile.mkdtemp(prefix="pixdash-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pixdash.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from generator import gallery  # noqa: E402
from generator.models import Generation, ImageModel, OutputImage, Source, Status  # noqa: E402
from pixdash.accounts.models import Team  # noqa: E402
from pixdash.core.ids import new_ulid  # noqa: E402

IMAGES, PER_JOB = 100_000, 10


def populate() -> Team:
    team, created = Team.objects.get_or_create(name="bench-gallery")
    if not created and OutputImage.objects.filter(team=team).count() >= IMAGES:
        return team
    model = ImageModel.objects.get(public_id="gemini-2.5-flash-image")
    start = timezone.now() - timedelta(days=365)
    jobs = [
        Generation(
            public_id=new_ulid(),
            team=team,
            source=Source.UI if i % 3 else Source.API,
            image_model=model,
            requested_model="nano-banana",
            provider="gemini",
            upstream_model=model.upstream_model,
            prompt=f"bench prompt {i} lighthouse",
            n=PER_JOB,
            aspect_ratio="1:1",
            width=1024,
            height=1024,
            status=Status.COMPLETED,
            unit_price=2,
            credits_held=20,
            credits_charged=20,
            images_delivered=PER_JOB,
            created_at=start + timedelta(minutes=i * 5),
        )
        for i in range(IMAGES // PER_JOB)
    ]
    Generation.objects.bulk_create(jobs, batch_size=2000)
    jobs = list(Generation.objects.filter(team=team).order_by("pk"))
    outputs = [
        OutputImage(
            generation=job,
            team=team,
            index=index,
            file=f"outputs/x/{job.public_id}-{index}.png",
            thumbnail=f"thumbs/x/{job.public_id}-{index}.webp",
            mime_type="image/png",
            width=1024,
            height=1024,
            bytes=1000,
            sha256="0" * 64,
            # Ties on created_at within a job, as n images of one job really have.
            created_at=job.created_at + timedelta(seconds=1),
            favourite=index == 0,
        )
        for job in jobs
        for index in range(PER_JOB)
    ]
    OutputImage.objects.bulk_create(outputs, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return team


def timed(fn, repeat: int = 30) -> float:
    fn()  # warm the cache
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def main() -> None:
    call_command("migrate", verbosity=0)
    began = time.perf_counter()
    team = populate()
    print(
        f"{connection.vendor}: {OutputImage.objects.filter(team=team).count():,} images "
        f"ready in {time.perf_counter() - began:.1f} s"
    )
    filters = gallery.Filters()
    ordered = gallery.visible(team, filters).values_list("pk", flat=True)
    deep_cursor = ordered[IMAGES - 50 - 1]
    fav = gallery.Filters(favourites=True)
    fav_deep = gallery.visible(team, fav).values_list("pk", flat=True)[IMAGES // PER_JOB - 50]
    api = gallery.Filters(source=Source.API)
    api_deep = gallery.visible(team, api).values_list("pk", flat=True)[30_000]
    rows = [
        ("first page (keyset)", lambda: gallery.page(team, filters)),
        ("deep page, 99,950 in (keyset)", lambda: gallery.page(team, filters, after=deep_cursor)),
        (
            "deep page via OFFSET (for contrast)",
            lambda: list(
                gallery.visible(team, filters).select_related("generation")[
                    IMAGES - 49 : IMAGES + 1
                ]
            ),
        ),
        ("favourites, deep (keyset)", lambda: gallery.page(team, fav, after=fav_deep)),
        ("source=API, deep (keyset, join)", lambda: gallery.page(team, api, after=api_deep)),
    ]
    for label, fn in rows:
        print(f"  {label:40s} {timed(fn):7.2f} ms (median of 30, {gallery.PAGE_SIZE} per page)")


if __name__ == "__main__":
    main()
