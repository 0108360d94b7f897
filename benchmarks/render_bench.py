"""Render cost per email, with and without the shared layout (docs/benchmarks.md).

    python benchmarks/render_bench.py [--old-html path/to/a/whole/email.html]

Renders the demo's welcome (three parts and the legal footer, as the sender does) from the
compiled cache, best of 10 × 2,000, three times interleaved, and the one-off cost of putting a template in its layout
and inlining its CSS (paid once per translation and layout version in each process).
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.test")

import django  # noqa: E402

django.setup()

from campaigns import templating  # noqa: E402
from campaigns.services.demo import content_read  # noqa: E402
from campaigns.templating.layout import Layout, layout_wrap  # noqa: E402


def per_email(*, subject, html_body, text_body, layout, rounds=10, n=2000) -> float:
    context = dict(templating.SAMPLE_CONTEXT)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            rendered = templating.template_render(
                cache_key=("bench", id(layout)), subject=subject, html_body=html_body,
                text_body=text_body, context=context, layout=layout)
            footer = templating.footer_render(locale="en", context=context, layout=layout)
            templating.with_footer(rendered=rendered, footer=footer)
        best = min(best, (time.perf_counter() - started) / n)
    return best


def calls_per_email(**sources) -> float:
    """Python calls per email: steadier than time on a shared machine."""
    import cProfile
    import pstats

    per_email(**sources, rounds=1, n=10)
    profile = cProfile.Profile()
    profile.enable()
    per_email(**sources, rounds=1, n=1000)
    profile.disable()
    return pstats.Stats(profile).total_calls / 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--old-html", help="the welcome as a whole email with inline CSS")
    args = parser.parse_args()
    content = content_read(name="welcome", locale="en")
    layout = Layout(key=("bench", 1), company_name="Nordic Goods AB")
    old = args.old_html and {**content, "html_body": Path(args.old_html).read_text(encoding="utf-8")}
    for _ in range(3):  # interleaved: this machine's load moves while it runs
        if old:
            print(f"whole email, no layout: {per_email(**old, layout=None) * 1e6:7.1f} µs per email")
        print(f"fragment in the layout: {per_email(**content, layout=layout) * 1e6:7.1f} µs per email")
    if old:
        print(f"Python calls per email: {calls_per_email(**old, layout=None):.0f} whole email, "
              f"{calls_per_email(**content, layout=layout):.0f} in the layout")
    started = time.perf_counter()
    for version in range(200):
        layout_wrap(content["html_body"], Layout(key=("once", version)))
    print(f"layout + CSS inlining, once per version: "
          f"{(time.perf_counter() - started) / 200 * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
