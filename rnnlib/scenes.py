"""A deterministic generator of small synthetic scenes with captions, for image captioning.

Each scene is a small RGB image (32x32 by default) holding one to three coloured shapes of
two sizes on a dark, slightly noisy background, together with four captions in different
phrasings ("a small red circle left of a large blue square", "a large blue square right of a
small red circle", ...) and, for every object, its attributes, bounding box and pixel mask, so
that an attention map can be scored against the region of the object a word names.

Everything is a pure function of ``(seed, split, index)``: image ``i`` of a split is drawn from
its own ``np.random.default_rng([seed, split_id, i])``, so it does not depend on how many images
are generated or in which order. ``docs/scenes.md`` documents the vocabulary and the templates.
"""

import numpy as np

SHAPES = ("circle", "square", "triangle", "diamond")
COLOURS = {
    "red": (215, 45, 45),
    "green": (45, 185, 65),
    "blue": (55, 95, 235),
    "yellow": (230, 210, 45),
    "white": (235, 235, 235),
}
COLOUR_NAMES = tuple(COLOURS)
# Radii in pixels: a small object spans about 8-9 pixels, a large one about 12-13. Smaller
# shapes differ by a handful of corner pixels only, which a small CNN learns too slowly.
SIZES = {"small": 4.5, "large": 6.5}
SIZE_NAMES = tuple(SIZES)

SPECIAL_TOKENS = ("<NULL>", "<START>", "<END>", "<UNK>")
# Words of the caption templates, apart from sizes, colours and shapes.
FUNCTION_WORDS = (
    "a", "there", "is", "and", "left", "right", "of", "the", "image", "shows", "only",
)
VOCABULARY = SPECIAL_TOKENS + FUNCTION_WORDS + SIZE_NAMES + COLOUR_NAMES + SHAPES
NUM_TEMPLATES = 4
MAX_OBJECTS = 3
SPLITS = {"train": 0, "val": 1, "test": 2}

_BACKGROUND = np.array([28.0, 28.0, 32.0])
# Minimum horizontal distance between two object centres, so that "left of" is never a tie.
_MIN_DX = 6.0


def build_vocab():
    """The fixed caption vocabulary.

    Returns:
    - word_to_idx: dict word -> int, with '<NULL>' 0, '<START>' 1, '<END>' 2, '<UNK>' 3 as in
      CS231n's COCO data.
    - idx_to_word: list of the words, indexed by their ids.
    """
    idx_to_word = list(VOCABULARY)
    return {w: i for i, w in enumerate(idx_to_word)}, idx_to_word


def object_mask(shape, size, cx, cy, image_size):
    """Pixel mask of one shape.

    Inputs:
    - shape: one of SHAPES.
    - size: one of SIZE_NAMES.
    - cx, cy: centre in pixel coordinates (x to the right, y down; pixel centres at k + 0.5).
    - image_size: S, the side of the square image.

    Returns:
    - mask: bool array of shape (S, S), indexed [y, x].
    """
    r = SIZES[size]
    ys, xs = np.mgrid[0:image_size, 0:image_size] + 0.5
    dx, dy = xs - cx, ys - cy
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":
        # Narrower than the circle's diameter, so the two silhouettes differ on every side
        # (the circle bulges past the square's edges, the square's corners stick out).
        s = 0.8 * r
        return (np.abs(dx) <= s) & (np.abs(dy) <= s)
    if shape == "triangle":
        # Pointing up: the half-width grows linearly from the apex (top) to the base (bottom).
        t = (dy + r) / (2 * r)
        return (t >= 0) & (t <= 1) & (np.abs(dx) <= t * r)
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= r * 1.15
    raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")


def _place(rng, sizes, image_size, tries=200):
    """Centres for objects of the given sizes with disjoint boxes and distinct columns."""
    centres = []
    for size in sizes:
        r = SIZES[size]
        for _ in range(tries):
            cx, cy = rng.uniform(r + 1, image_size - r - 1, size=2)
            ok = True
            for (ox, oy), osize in zip(centres, sizes, strict=False):
                orr = SIZES[osize]
                if abs(cx - ox) < _MIN_DX:
                    ok = False
                    break
                # Boxes must be apart by at least one pixel on some axis.
                if abs(cx - ox) < r + orr + 1 and abs(cy - oy) < r + orr + 1:
                    ok = False
                    break
            if ok:
                centres.append((cx, cy))
                break
        else:
            return None
    return centres


def noun_phrase(obj):
    """'a small red circle' for an object dict with keys shape, colour, size."""
    return f"a {obj['size']} {obj['colour']} {obj['shape']}"


def captions_for(objects):
    """The four captions of a scene, one per template.

    Inputs:
    - objects: list of object dicts (keys shape, colour, size, cx) in any order.

    Returns:
    - list of NUM_TEMPLATES strings: left-to-right with "left of", right-to-left with "right
      of" ("only a ..." for a single object, so the two differ), "there is ... and ...", and
      "the image shows ..." followed by the first template.
    """
    ordered = sorted(objects, key=lambda o: o["cx"])
    phrases = [noun_phrase(o) for o in ordered]
    left_to_right = " left of ".join(phrases)
    return [
        left_to_right,
        " right of ".join(reversed(phrases)) if len(phrases) > 1 else "only " + phrases[0],
        "there is " + " and ".join(phrases),
        "the image shows " + left_to_right,
    ]


def generate_scene(rng, image_size=32, max_objects=MAX_OBJECTS):
    """One random scene.

    Inputs:
    - rng: a np.random.Generator; the scene is a pure function of its state.
    - image_size: S, side of the square image in pixels.
    - max_objects: at most this many objects (at least one).

    Returns a dict:
    - image: uint8 array (S, S, 3).
    - objects: list of dicts with shape, colour, size (names), cx, cy (centre in pixels),
      bbox (x0, y0, x1, y1) as half-open pixel bounds, and mask (S, S) bool; ordered left
      to right.
    - captions: list of NUM_TEMPLATES strings.
    """
    while True:
        k = int(rng.integers(1, max_objects + 1))
        # Distinct (shape, colour) pairs, so that every "colour shape" names one object.
        pairs = rng.choice(len(SHAPES) * len(COLOURS), size=k, replace=False)
        sizes = [SIZE_NAMES[i] for i in rng.integers(0, len(SIZES), size=k)]
        centres = _place(rng, sizes, image_size)
        if centres is not None:
            break
    image = _BACKGROUND + rng.normal(0.0, 6.0, size=(image_size, image_size, 3))
    objects = []
    for pair, size, (cx, cy) in zip(pairs, sizes, centres, strict=True):
        shape, colour = SHAPES[pair // len(COLOURS)], COLOUR_NAMES[pair % len(COLOURS)]
        mask = object_mask(shape, size, cx, cy, image_size)
        tint = np.array(COLOURS[colour], dtype=float) + rng.uniform(-15, 15, size=3)
        image[mask] = tint + rng.normal(0.0, 6.0, size=(int(mask.sum()), 3))
        ys, xs = np.nonzero(mask)
        objects.append({
            "shape": shape, "colour": colour, "size": size, "cx": float(cx), "cy": float(cy),
            "bbox": (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
            "mask": mask,
        })
    objects.sort(key=lambda o: o["cx"])
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return {"image": image, "objects": objects, "captions": captions_for(objects)}


def generate_scenes(n, seed=0, split="train", image_size=32, max_objects=MAX_OBJECTS,
                    indices=None):
    """A split of n scenes as arrays.

    Inputs:
    - n: number of scenes.
    - seed: the data seed; scene i of a split is drawn from default_rng([seed, split_id, i]).
    - split: 'train', 'val' or 'test' (different splits never share a random stream).
    - image_size: S.
    - max_objects: M, at most this many objects per scene.
    - indices: if given, only the scenes with these numbers, in this order (n is ignored):
      row j is scene indices[j] of the split, the same as in the full split.

    Returns a dict of arrays (objects ordered left to right, absent slots padded):
    - images: uint8 (n, S, S, 3).
    - num_objects: int64 (n,).
    - attributes: int64 (n, M, 3): indices into SHAPES, COLOUR_NAMES, SIZE_NAMES; -1 if absent.
    - boxes: int64 (n, M, 4): (x0, y0, x1, y1), half-open; -1 if absent.
    - masks: bool (n, M, S, S).
    - captions: list of n lists of NUM_TEMPLATES strings.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {tuple(SPLITS)}, got {split!r}")
    numbers = range(n) if indices is None else [int(i) for i in indices]
    n = len(numbers)
    images = np.empty((n, image_size, image_size, 3), dtype=np.uint8)
    num_objects = np.zeros(n, dtype=np.int64)
    attributes = np.full((n, max_objects, 3), -1, dtype=np.int64)
    boxes = np.full((n, max_objects, 4), -1, dtype=np.int64)
    masks = np.zeros((n, max_objects, image_size, image_size), dtype=bool)
    captions = []
    for i, number in enumerate(numbers):
        scene = generate_scene(np.random.default_rng([seed, SPLITS[split], number]), image_size,
                               max_objects)
        images[i] = scene["image"]
        num_objects[i] = len(scene["objects"])
        for j, obj in enumerate(scene["objects"]):
            attributes[i, j] = (SHAPES.index(obj["shape"]), COLOUR_NAMES.index(obj["colour"]),
                                SIZE_NAMES.index(obj["size"]))
            boxes[i, j] = obj["bbox"]
            masks[i, j] = obj["mask"]
        captions.append(scene["captions"])
    return {"images": images, "num_objects": num_objects, "attributes": attributes,
            "boxes": boxes, "masks": masks, "captions": captions}


def max_caption_length(max_objects=MAX_OBJECTS):
    """Longest caption in words (the 'the image shows' template with max_objects objects)."""
    return 3 + 4 * max_objects + 2 * (max_objects - 1)


def encode_captions(captions, word_to_idx, max_length=None):
    """Caption strings to padded word ids, CS231n style.

    Inputs:
    - captions: list of n lists of K strings (words separated by single spaces).
    - word_to_idx: the vocabulary; unknown words map to '<UNK>'.
    - max_length: L, the number of words kept; default max_caption_length().

    Returns:
    - ids: int32 array (n, K, L + 2): '<START>' words '<END>' then '<NULL>' padding.
    """
    if max_length is None:
        max_length = max_caption_length()
    n, k = len(captions), len(captions[0])
    ids = np.full((n, k, max_length + 2), word_to_idx["<NULL>"], dtype=np.int32)
    unk = word_to_idx["<UNK>"]
    for i, caps in enumerate(captions):
        if len(caps) != k:
            raise ValueError(f"captions[{i}] has {len(caps)} captions, expected {k}")
        for j, cap in enumerate(caps):
            words = cap.split()[:max_length]
            row = [word_to_idx["<START>"]] + [word_to_idx.get(w, unk) for w in words]
            row.append(word_to_idx["<END>"])
            ids[i, j, :len(row)] = row
    return ids


def decode_captions(ids, idx_to_word):
    """Word ids to strings, stopping at '<END>' and skipping '<NULL>' and '<START>'.

    Inputs:
    - ids: int array (n, T) (or (T,) for one caption).
    - idx_to_word: list of words.

    Returns:
    - list of n strings (or one string).
    """
    ids = np.asarray(ids)
    if ids.ndim == 1:
        return decode_captions(ids[None], idx_to_word)[0]
    out = []
    for row in ids:
        words = []
        for t in row:
            w = idx_to_word[int(t)]
            if w == "<END>":
                break
            if w not in ("<NULL>", "<START>"):
                words.append(w)
        out.append(" ".join(words))
    return out


def cell_targets(attributes, masks, grid):
    """Per-cell attribute labels of a P x P grid over each image (for a dense auxiliary task).

    A cell is labelled with the object covering the largest part of it if that object covers at
    least a quarter of the cell; otherwise it is background (label 0). Object classes are
    shifted by one so that 0 means "no object".

    Inputs:
    - attributes: int (n, M, 3) from generate_scenes.
    - masks: bool (n, M, S, S) from generate_scenes; S must be a multiple of grid.
    - grid: P.

    Returns:
    - labels: int64 (n, 3, P, P): shape, colour and size class of each cell (0 = none).
    - coverage: float (n, M, P, P): the fraction of each cell covered by each object.
    """
    n, m, s, _ = masks.shape
    if s % grid:
        raise ValueError(f"image size {s} is not a multiple of grid {grid}")
    c = s // grid
    coverage = masks.reshape(n, m, grid, c, grid, c).mean(axis=(3, 5))
    best = coverage.argmax(axis=1)                                    # (n, P, P)
    best_cov = np.take_along_axis(coverage, best[:, None], axis=1)[:, 0]
    labels = np.zeros((n, 3, grid, grid), dtype=np.int64)
    for a in range(3):
        cls = np.take_along_axis(attributes[:, :, a], best.reshape(n, -1), axis=1)
        labels[:, a] = np.where(best_cov >= 0.25, cls.reshape(n, grid, grid) + 1, 0)
    return labels, coverage
