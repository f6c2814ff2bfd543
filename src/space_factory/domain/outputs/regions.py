"""The judges of image regions: object-detection boxes and segmentation masks, held to the image they describe.

Decisions (docs/architecture.md, "The gate"):
- Detectors do not clip their boxes to the image (DETR/YOLOS turn centre+size into corners unclipped), so a
  box may overshoot each border by `BOX_TOLERANCE` of that side (at least `BOX_TOLERANCE_PX` pixels); more
  than that is a box outside the image, which no real detector of that image returns.
- Zero detections is a legitimate answer of a real detector, but it is no evidence that one ran: a stub
  returns `[]` too. The verdict is therefore not ok ("no detections"), and the templates make sure a real
  model shows its best boxes (a low default threshold).
- A mask must have the input image's size (or, when the output carries it, its base image's size): a mask
  of another size belongs to another image. Masks may be one flat colour (one segment may cover it all).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from space_factory.domain.excerpts import describe_type
from space_factory.domain.outputs.coercion import as_float, clip, first_of_tuple, is_score, maybe_json
from space_factory.domain.outputs.judges import JudgeInput, verdict
from space_factory.domain.outputs.media_judges import file_ref, read_image
from space_factory.domain.outputs.probe import same_output
from space_factory.domain.schemas import OutputVerdict

__all__ = ["BOX_TOLERANCE", "BOX_TOLERANCE_PX", "judge_detections", "judge_segments", "same_detections"]

BOX_TOLERANCE = 0.05
BOX_TOLERANCE_PX = 2.0
_BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


def _detection_items(output: object) -> list[object] | str:
    value = first_of_tuple(maybe_json(output))
    if isinstance(value, Mapping):
        key = next((k for k in ("detections", "objects", "predictions") if k in value), None)
        if key is None:
            return f"expected a list of detections, got {describe_type(value)}"
        value = maybe_json(value[key])
    if not isinstance(value, list):
        return f"expected a list of detections, got {describe_type(output)}"
    return value


def _box(raw: object) -> tuple[float, float, float, float] | str:
    """(xmin, ymin, xmax, ymax) from a pipeline box dict or a 4-number list."""
    if isinstance(raw, Mapping):
        numbers = [as_float(raw.get(k)) for k in _BOX_KEYS]
    elif isinstance(raw, list | tuple) and len(raw) == 4:
        numbers = [as_float(v) for v in raw]
    else:
        return f"the box is {describe_type(raw)}, not {{xmin, ymin, xmax, ymax}}"
    if any(n is None or not math.isfinite(n) for n in numbers):
        return f"the box {clip(repr(raw), 60)} holds a non-number"
    x0, y0, x1, y1 = (n for n in numbers if n is not None)
    if x1 < x0 or y1 < y0:
        return f"the box {clip(repr(raw), 60)} has its corners swapped"
    return x0, y0, x1, y1


def _outside(box: tuple[float, float, float, float], size: tuple[int, int]) -> bool:
    width, height = size
    x0, y0, x1, y1 = box
    dx, dy = max(BOX_TOLERANCE_PX, BOX_TOLERANCE * width), max(BOX_TOLERANCE_PX, BOX_TOLERANCE * height)
    return x0 < -dx or y0 < -dy or x1 > width + dx or y1 > height + dy


def judge_detections(output: object, given: JudgeInput) -> OutputVerdict:
    """Detections: each a non-empty label, a score in [0, 1] and a box inside the input image (with tolerance)."""
    items = _detection_items(output)
    if isinstance(items, str):
        return verdict(False, "unrecognized", items)
    if not items:
        return verdict(False, "detections", "no detections: an empty answer is no evidence that a detector ran")
    labels: list[str] = []
    for item in items:
        if not isinstance(item, Mapping):
            return verdict(False, "detections", f"a detection is {describe_type(item)}, not a dict")
        label, score = item.get("label"), item.get("score")
        if not isinstance(label, str) or not label.strip():
            return verdict(False, "detections", f"a detection has no label ({clip(repr(label), 40)})")
        if not is_score(score):
            return verdict(False, "detections", f"detection {clip(label, 30)!r} has score {clip(repr(score), 30)}, "
                                                "not in [0, 1]")
        box = _box(item.get("box", item.get("bbox")))
        if isinstance(box, str):
            return verdict(False, "detections", f"detection {clip(label, 30)!r}: {box}")
        if given.image_size is not None and _outside(box, given.image_size):
            width, height = given.image_size
            shown = ", ".join(f"{v:.4g}" for v in box)
            return verdict(False, "detections", f"detection {clip(label, 30)!r} has box ({shown}) outside the "
                                                f"{width}×{height} image")
        labels.append(label)
    shown = ", ".join(sorted(set(labels))[:4])
    return verdict(True, "detections", f"{len(items)} detection(s) inside the image: {clip(shown, 80)}")


def same_detections(output: object, probe_output: object) -> bool:
    """Whether two outputs hold the same detections (labels, scores and boxes), whatever else they carry: the
    templates also return the image with its boxes drawn, a file under a new temporary path on every call."""
    mine, theirs = _detection_items(output), _detection_items(probe_output)
    return not isinstance(mine, str) and not isinstance(theirs, str) and same_output(mine, theirs)


def _segments(output: object) -> tuple[object, list[tuple[object, object]]] | str:
    """(base image or None, [(mask, label)]) from gr.AnnotatedImage's value or a list of {label, mask}."""
    value = first_of_tuple(maybe_json(output))
    if isinstance(value, Mapping) and "annotations" in value:
        annotations = value["annotations"]
        if not isinstance(annotations, list):
            return f"annotations is {describe_type(annotations)}, not a list"
        pairs: list[tuple[object, object]] = []
        for item in annotations:
            if isinstance(item, Mapping):
                pairs.append((item.get("image", item.get("mask")), item.get("label")))
            elif isinstance(item, list | tuple) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                return f"an annotation is {describe_type(item)}"
        return value.get("image"), pairs
    if isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
        return None, [(item.get("mask"), item.get("label")) for item in value if isinstance(item, Mapping)]
    return f"expected segments (an annotated image or a list of masks), got {describe_type(output)}"


def _expected_size(base: object, given: JudgeInput) -> tuple[int, int] | OutputVerdict | None:
    if base is not None and (ref := file_ref(base)) is not None and ref in given.files:
        facts = read_image(ref, given, first=False)
        if isinstance(facts, OutputVerdict):
            return verdict(False, "segments", f"the base image: {facts.detail}")
        return facts.width, facts.height
    return given.image_size


def judge_segments(output: object, given: JudgeInput) -> OutputVerdict:
    """Segments: at least one, each with a non-empty label and a mask image of the input image's size."""
    found = _segments(output)
    if isinstance(found, str):
        return verdict(False, "unrecognized", found)
    base, pairs = found
    if not pairs:
        return verdict(False, "segments", "no segments in the output")
    expected = _expected_size(base, given)
    if isinstance(expected, OutputVerdict):
        return expected
    labels: list[str] = []
    for mask, label in pairs:
        if not isinstance(label, str) or not label.strip():
            return verdict(False, "segments", f"a segment has no label ({clip(repr(label), 40)})")
        ref = file_ref(mask)
        if ref is None:
            return verdict(False, "segments", f"segment {clip(label, 30)!r} has no mask file "
                                              f"({describe_type(mask)})")
        facts = read_image(ref, given, first=False)
        if isinstance(facts, OutputVerdict):
            return verdict(False, "segments", f"the mask of {clip(label, 30)!r}: {facts.detail}")
        if expected is not None and (facts.width, facts.height) != expected:
            return verdict(False, "segments", f"the mask of {clip(label, 30)!r} is {facts.width}×{facts.height}, "
                                              f"not the image's {expected[0]}×{expected[1]}")
        labels.append(label)
    size = f" of {expected[0]}×{expected[1]}" if expected else ""
    return verdict(True, "segments", f"{len(pairs)} mask(s){size}: {clip(', '.join(_distinct(labels)), 80)}")


def _distinct(labels: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(labels))[:4]
