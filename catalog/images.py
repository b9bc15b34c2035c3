"""Product pictures made on this machine: the demo seed draws a simple SVG card per product
image (a colour from the product's slug, its name and a caption) and keeps it in the default
storage under ``catalog/images/``, served by ``image`` below. Pages never load a picture from
another host."""

import hashlib
import re
from xml.sax.saxutils import escape

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.cache import cache_control

FOLDER = "catalog/images"
CONTENT_TYPES = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,120}\.(svg|png|jpe?g|webp)$")


def _hue(seed: str) -> int:
    return int(hashlib.sha256(seed.encode()).hexdigest()[:4], 16) % 360


def card_svg(title: str, caption: str, seed: str, *, width=640, height=360) -> str:
    """An SVG picture: a two-tone background in a hue taken from ``seed``, the title's
    initials large, the title and caption below (escaped)."""
    hue = _hue(seed)
    initials = "".join(word[0] for word in re.findall(r"[A-Za-z0-9]+", title)[:2]).upper()
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f'<rect width="{width}" height="{height}" fill="hsl({hue},55%,42%)"/>'
        f'<circle cx="{width * 0.8:.0f}" cy="{height * 0.2:.0f}" r="{height * 0.45:.0f}" '
        f'fill="hsl({(hue + 40) % 360},60%,55%)" opacity=".55"/>'
        f'<text x="40" y="{height * 0.55:.0f}" font-family="system-ui, sans-serif" '
        f'font-size="{height * 0.3:.0f}" font-weight="700" fill="#fff">{escape(initials)}</text>'
        f'<text x="40" y="{height * 0.75:.0f}" font-family="system-ui, sans-serif" '
        f'font-size="28" fill="#fff">{escape(title[:40])}</text>'
        f'<text x="40" y="{height * 0.86:.0f}" font-family="system-ui, sans-serif" '
        f'font-size="20" fill="#fff" opacity=".85">{escape(caption[:50])}</text></svg>'
    )


def store_demo_images(slug: str, name: str) -> list[dict]:
    """Two pictures of a product (overview and detail), written (again) to the storage;
    returns the product's ``images`` value."""
    images = []
    for suffix, caption, alt in (("", "Overview", name), ("-2", "Detail", f"{name}, detail")):
        path = f"{FOLDER}/{slug}{suffix}.svg"
        if default_storage.exists(path):
            default_storage.delete(path)
        default_storage.save(path, ContentFile(card_svg(name, caption, slug + suffix).encode()))
        images.append({"url": default_storage.url(path), "alt": alt})
    return images


@cache_control(public=True, max_age=3600)
def image(request, name: str):
    """A catalog picture from the storage (only names in ``catalog/images/``)."""
    match = _NAME.match(name)
    path = f"{FOLDER}/{name}"
    if match is None or not default_storage.exists(path):
        raise Http404("No such picture.")
    response = FileResponse(
        default_storage.open(path, "rb"), content_type=CONTENT_TYPES[match.group(1)]
    )
    # An SVG opened on its own runs no script and loads nothing.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
