"""ASF skeleton files (Acclaim: the CMU and HDM05 mocap databases): one actor's bones.

A skeleton has a root (its AMC channel ``order``, rest ``position`` and ``orientation``) and
bones, each with a rest ``direction`` (a unit vector in world axes) and ``length``, a local
frame ``axis`` (Euler angles, applied in the given order: ``XYZ`` is ``Rz @ Ry @ Rx``), the
rotational ``dof`` its AMC rows animate, and ``limits``; ``:hierarchy`` names each bone's
children. ``:units length L`` means the file's lengths are inches times ``1 / L`` (CMU and
HDM05: 0.45, so 5.64 cm per unit); ``angle`` is ``deg`` or ``rad``. The motion and its forward
kinematics are in ``edgesdk.data.asf_amc``.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "demo.asf"
    >>> _ = path.write_text(example_asf_text())
    >>> skeleton = read_asf(path)
    >>> len(skeleton.bones), skeleton.bones[1].name, skeleton.bones[1].dof
    (30, 'lfemur', ('rx', 'ry', 'rz'))
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgesdk.errors import EdgeSDKError
from edgesdk.reading import read_text

METRES_PER_INCH = 0.0254
ROOT_CHANNELS = ("tx", "ty", "tz", "rx", "ry", "rz")
_BONE_DOFS = ("rx", "ry", "rz")


@dataclass(frozen=True)
class AsfBone:
    """One ``begin ... end`` block of ``:bonedata``.

    Attributes:
        name: the bone's name.
        direction: ``[3]`` unit vector from its start to its end in the rest pose, world axes.
        length: file length units.
        axis_deg: the local frame's Euler angles (degrees), applied in ``axis_order``.
        axis_order: e.g. ``"XYZ"``: rotate about X first, then Y, then Z.
        dof: the animated rotations in AMC column order, e.g. ``("rx", "ry", "rz")``.
        limits_deg: per dof, ``(low, high)`` as written (degrees); not enforced (AMC angles
            are often unwrapped past them).
    """

    name: str
    direction: tuple[float, float, float]
    length: float
    axis_deg: tuple[float, float, float]
    axis_order: str
    dof: tuple[str, ...]
    limits_deg: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class AsfSkeleton:
    """A parsed ``.asf`` file.

    Attributes:
        path: the file.
        length_unit: the ``:units length`` value (1 / inches per file unit).
        angle_unit: ``"deg"`` or ``"rad"``.
        root_order: the root's AMC channels, e.g. ``("tx", "ty", "tz", "rx", "ry", "rz")``.
        root_axis_order: the order of the root's ``orientation`` angles, e.g. ``"XYZ"``.
        root_position: the root's rest position (file units).
        root_orientation_deg: the root's rest orientation (degrees).
        bones: the bones, parents before children (root excluded).
        parents: per bone, its parent's index in ``bones``, -1 for the root.
    """

    path: str
    length_unit: float
    angle_unit: str
    root_order: tuple[str, ...]
    root_axis_order: str
    root_position: tuple[float, float, float]
    root_orientation_deg: tuple[float, float, float]
    bones: tuple[AsfBone, ...]
    parents: tuple[int, ...]

    @property
    def metres_per_unit(self) -> float:
        """``0.0254 / length_unit``: CMU's ``length 0.45`` gives 5.64 cm per file unit."""
        return METRES_PER_INCH / self.length_unit

    def bone_index(self, name: str) -> int:
        return next(i for i, b in enumerate(self.bones) if b.name == name)


def fail(where: str, line: int | None, problem: str) -> EdgeSDKError:
    at = f"{where} line {line}" if line is not None else where
    return EdgeSDKError(f"{at}: {problem}")


def _floats(tokens: list[str], count: int, where: str, line: int, what: str) -> list[float]:
    if len(tokens) != count:
        raise fail(where, line, f"{what} needs {count} numbers, got {len(tokens)}")
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        raise fail(where, line, f"{what}: non-numeric value in {' '.join(tokens)!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise fail(where, line, f"{what}: NaN or infinite value")
    return values


def read_asf(path: str | Path) -> AsfSkeleton:
    """Parse an ``.asf`` skeleton.

    Raises ``EdgeSDKError`` (one line, with the file and line number) for a missing file, a
    ``:units`` length that is not a positive number or an angle unit other than deg/rad,
    a bone block lacking its name, direction or length, an unknown dof, and a hierarchy
    naming unknown bones, giving a bone two parents, or leaving a bone out.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "demo.asf"
        >>> _ = path.write_text(example_asf_text())
        >>> sk = read_asf(path)
        >>> [b.name for b in sk.bones[:3]], sk.parents[:3], round(sk.metres_per_unit, 4)
        (['lhipjoint', 'lfemur', 'ltibia'], (-1, 0, 1), 0.0564)
    """
    path = Path(path)
    where = str(path)
    text = read_text(path, "the skeleton")
    head = _Header()
    bones: list[AsfBone] = []
    block: _BoneDraft | None = None
    children: dict[str, list[tuple[str, int]]] = {}
    section = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        key = tokens[0].lower()
        if key.startswith(":"):
            section = key
            if section == ":units" and len(tokens) > 1:
                raise fail(where, number, ":units takes its values on the following lines")
            continue
        if section == ":units":
            head.read_unit(key, tokens, where, number)
        elif section == ":root":
            head.read_root(key, tokens, where, number)
        elif section == ":bonedata":
            if key == "begin":
                if block is not None:
                    raise fail(where, number, "'begin' inside a bone block (missing 'end')")
                block = _BoneDraft(line=number)
            elif key == "end":
                if block is None:
                    raise fail(where, number, "'end' without 'begin'")
                bones.append(block.bone(where))
                block = None
            elif block is None:
                raise fail(where, number, f"{tokens[0]!r} outside a bone block")
            else:
                block.read(key, tokens, where, number)
        elif section == ":hierarchy" and key not in ("begin", "end"):
            for child in tokens[1:]:
                children.setdefault(tokens[0], []).append((child, number))
    if block is not None:
        raise fail(where, block.line, "bone block without 'end'")
    if not bones:
        raise fail(where, None, "no :bonedata bones (not an ASF skeleton?)")
    ordered, parents = _order_bones(bones, children, where)
    return AsfSkeleton(
        path=where,
        length_unit=head.length_unit,
        angle_unit=head.angle_unit,
        root_order=head.root_order,
        root_axis_order=head.root_axis_order,
        root_position=head.root_position,
        root_orientation_deg=head.root_orientation,
        bones=tuple(ordered),
        parents=tuple(parents),
    )


@dataclass
class _Header:
    """``:units`` and ``:root`` as read so far (the ASF defaults: inches, degrees)."""

    length_unit: float = 1.0
    angle_unit: str = "deg"
    root_order: tuple[str, ...] = ROOT_CHANNELS
    root_axis_order: str = "XYZ"
    root_position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    root_orientation: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def read_unit(self, key: str, tokens: list[str], where: str, line: int) -> None:
        value = tokens[1] if len(tokens) > 1 else ""
        if key == "length":
            try:
                length = float(value)
            except ValueError:
                length = math.nan
            if not (math.isfinite(length) and length > 0):
                raise fail(where, line, f":units length must be a positive number, got {value!r}")
            self.length_unit = length
        elif key == "angle":
            if value.lower() not in ("deg", "rad"):
                raise fail(where, line, f":units angle must be 'deg' or 'rad', got {value!r}")
            self.angle_unit = value.lower()

    def read_root(self, key: str, tokens: list[str], where: str, line: int) -> None:
        if key == "order":
            order = tuple(t.lower() for t in tokens[1:])
            if set(order) - set(ROOT_CHANNELS) or len(set(order)) != len(order):
                raise fail(where, line, f"root order must use TX TY TZ RX RY RZ once each: {order}")
            self.root_order = order
        elif key == "axis":
            self.root_axis_order = _axis_order(tokens[1] if len(tokens) > 1 else "", where, line)
        elif key == "position":
            self.root_position = _vec3(tokens[1:], where, line, "root position")
        elif key == "orientation":
            self.root_orientation = _vec3(tokens[1:], where, line, "root orientation")


def _vec3(tokens: list[str], where: str, line: int, what: str) -> tuple[float, float, float]:
    x, y, z = _floats(tokens, 3, where, line, what)
    return x, y, z


def _axis_order(order: str, where: str, line: int) -> str:
    order = order.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise fail(where, line, f"axis order must be a permutation of XYZ, got {order!r}")
    return order


@dataclass
class _BoneDraft:
    """One ``begin ... end`` block as read so far."""

    line: int
    name: str | None = None
    direction: tuple[float, float, float] | None = None
    length: float | None = None
    axis: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axis_order: str = "XYZ"
    dof: tuple[str, ...] = ()
    limits: list[str] = field(default_factory=list)
    last_key: str = ""

    def read(self, key: str, tokens: list[str], where: str, line: int) -> None:
        if key.startswith("(") and self.last_key == "limits":  # limits continue on new lines
            self.limits.append(" ".join(tokens))
            return
        self.last_key = key
        if key == "name":
            if len(tokens) != 2:
                raise fail(where, line, "a bone name must be one word")
            self.name = tokens[1]
        elif key == "direction":
            self.direction = _vec3(tokens[1:], where, line, "direction")
        elif key == "length":
            (length,) = _floats(tokens[1:], 1, where, line, "length")
            if length < 0:
                raise fail(where, line, f"bone length must not be negative, got {length}")
            self.length = length
        elif key == "axis":
            self.axis = _vec3(tokens[1:4], where, line, "axis")
            self.axis_order = _axis_order(tokens[4] if len(tokens) == 5 else "", where, line)
        elif key == "dof":
            dof = tuple(t.lower() for t in tokens[1:])
            if set(dof) - set(_BONE_DOFS) or len(set(dof)) != len(dof):
                raise fail(where, line, f"unsupported dof {' '.join(tokens[1:])!r} (rx ry rz only)")
            self.dof = dof
        elif key == "limits":
            self.limits = [" ".join(tokens[1:])]
        # id, bodymass, cofmass and other fields do not change the kinematics.

    def bone(self, where: str) -> AsfBone:
        if self.name is None or self.direction is None or self.length is None:
            missing = [k for k in ("name", "direction", "length") if getattr(self, k) is None]
            raise fail(where, self.line, f"bone block lacks {', '.join(missing)}")
        direction = np.asarray(self.direction, dtype=np.float64)
        norm = float(np.linalg.norm(direction))
        if norm < 1e-9 and self.length > 0:
            raise fail(where, self.line, f"bone {self.name!r} has a zero direction")
        unit = direction / norm if norm >= 1e-9 else direction
        return AsfBone(
            name=self.name,
            direction=(float(unit[0]), float(unit[1]), float(unit[2])),
            length=self.length,
            axis_deg=self.axis,
            axis_order=self.axis_order,
            dof=self.dof,
            limits_deg=_parse_limits(self.limits, len(self.dof), self.name, where, self.line),
        )


def _parse_limits(
    rows: list[str], count: int, name: str, where: str, line: int
) -> tuple[tuple[float, float], ...]:
    numbers = re.findall(r"[-+]?(?:inf|\d*\.?\d+(?:[eE][-+]?\d+)?)", " ".join(rows), re.I)
    if not rows:
        return ()
    if len(numbers) != 2 * count:
        raise fail(where, line, f"bone {name!r}: {len(numbers) // 2} limits for {count} dof")
    values = [float(v) for v in numbers]
    return tuple((values[2 * i], values[2 * i + 1]) for i in range(count))


def _order_bones(
    bones: list[AsfBone], children: dict[str, list[tuple[str, int]]], where: str
) -> tuple[list[AsfBone], list[int]]:
    """Bones in depth-first order from the root, and each one's parent index (-1: root)."""
    by_name = {b.name: b for b in bones}
    if len(by_name) != len(bones) or "root" in by_name:
        raise fail(where, None, "duplicate bone names (or a bone named 'root')")
    parent_of: dict[str, str] = {}
    for parent, kids in children.items():
        if parent != "root" and parent not in by_name:
            raise fail(where, kids[0][1], f"hierarchy names unknown bone {parent!r}")
        for child, line in kids:
            if child not in by_name:
                raise fail(where, line, f"hierarchy names unknown bone {child!r}")
            if child in parent_of:
                raise fail(where, line, f"bone {child!r} has two parents in the hierarchy")
            parent_of[child] = parent
    ordered: list[AsfBone] = []
    parents: list[int] = []
    index: dict[str, int] = {"root": -1}
    stack = [c for c, _ in reversed(children.get("root", []))]
    while stack:
        name = stack.pop()
        index[name] = len(ordered)
        ordered.append(by_name[name])
        parents.append(index[parent_of[name]])
        stack.extend(c for c, _ in reversed(children.get(name, [])))
    left_out = [b.name for b in bones if b.name not in index]
    if left_out:
        raise fail(where, None, f"bones not reachable from root in :hierarchy: {left_out[:4]}")
    return ordered, parents


_ExampleBone = tuple[str, str, tuple[float, float, float], float, tuple[float, float, float], str]
# The CMU / HDM05 skeleton (HDM05 actor "bd", rounded): name, parent, direction, length, axis
# (XYZ, degrees), dof. The right side mirrors the left (x -> -x).
_EXAMPLE_SPINE: tuple[_ExampleBone, ...] = (
    ("lowerback", "root", (0.024, 0.999, -0.037), 2.22, (0, 0, 0), "rx ry rz"),
    ("upperback", "lowerback", (0.030, 0.997, -0.074), 2.20, (0, 0, 0), "rx ry rz"),
    ("thorax", "upperback", (0.019, 0.998, -0.056), 2.22, (0, 0, 0), "rx ry rz"),
    ("lowerneck", "thorax", (-0.120, 0.987, 0.103), 1.73, (0, 0, 0), "rx ry rz"),
    ("upperneck", "lowerneck", (0.248, 0.963, -0.104), 1.75, (0, 0, 0), "rx ry rz"),
    ("head", "upperneck", (0.090, 0.994, -0.057), 1.78, (0, 0, 0), "rx ry rz"),
)
_EXAMPLE_LEFT: tuple[_ExampleBone, ...] = (
    ("lhipjoint", "root", (0.567, -0.783, 0.255), 2.28, (0, 0, 0), ""),
    ("lfemur", "lhipjoint", (0.342, -0.940, 0.0), 7.34, (0, 0, 20), "rx ry rz"),
    ("ltibia", "lfemur", (0.342, -0.940, 0.0), 6.98, (0, 0, 20), "rx"),
    ("lfoot", "ltibia", (0.136, -0.375, 0.917), 2.34, (-90, 0, 20), "rx rz"),
    ("ltoes", "lfoot", (0.0, 0.0, 1.0), 1.15, (-90, 0, 20), "rx"),
    ("lclavicle", "thorax", (0.946, 0.242, -0.216), 3.81, (0, 0, 0), "ry rz"),
    ("lhumerus", "lclavicle", (1.0, 0.0, 0.0), 4.83, (180, -30, -90), "rx ry rz"),
    ("lradius", "lhumerus", (1.0, 0.0, 0.0), 3.00, (180, -30, -90), "rx"),
    ("lwrist", "lradius", (1.0, 0.0, 0.0), 1.50, (0, 90, 90), "ry"),
    ("lhand", "lwrist", (1.0, 0.0, 0.0), 1.27, (0, 90, 90), "rx rz"),
    ("lfingers", "lhand", (1.0, 0.0, 0.0), 1.03, (0, 90, 90), "rx"),
    ("lthumb", "lwrist", (0.707, 0.0, 0.707), 1.47, (-90, 45, 0), "rx rz"),
)


def _mirrored(bone: _ExampleBone) -> _ExampleBone:
    """The right side's bone from the left's: x -> -x, and the axis angles about Y and Z
    negated."""
    name, parent, (x, y, z), length, (ax, ay, az), dof = bone
    name, parent = ("r" + n[1:] if n.startswith("l") else n for n in (name, parent))
    return name, parent, (-x, y, z), length, (ax, -ay, -az), dof


def example_asf_text(length_unit: float = 0.45, angle_unit: str = "deg") -> str:
    """A CMU-style 31-bone ``.asf`` (HDM05's actor "bd", rounded), for examples and tests.

    Example:
        >>> text = example_asf_text()
        >>> text.splitlines()[3], "name rthumb" in text
        ('  length 0.45', True)
    """
    bones = [*_EXAMPLE_LEFT, *(_mirrored(b) for b in _EXAMPLE_LEFT), *_EXAMPLE_SPINE]
    lines = [
        ":version 1.10",
        ":name VICON",
        ":units",
        f"  length {length_unit:g}",
        f"  angle {angle_unit}",
        ":root",
        "   order TX TY TZ RX RY RZ",
        "   axis XYZ",
        "   position 0 0 0",
        "   orientation 0 0 0",
        ":bonedata",
    ]
    for i, (name, _, direction, length, axis, dof) in enumerate(bones, start=1):
        lines += ["  begin", f"     id {i}", f"     name {name}"]
        lines += [f"     direction {direction[0]:g} {direction[1]:g} {direction[2]:g}"]
        lines += [f"     length {length:g}", f"     axis {axis[0]:g} {axis[1]:g} {axis[2]:g}  XYZ"]
        if dof:
            lines.append(f"    dof {dof}")
            lines += ["    limits " + " ".join("(-180.0 180.0)" for _ in dof.split())]
        lines.append("  end")
    children: dict[str, list[str]] = {}
    for name, parent, *_ in bones:
        children.setdefault(parent, []).append(name)
    lines += [":hierarchy", "  begin"]
    lines += [f"    {parent} {' '.join(kids)}" for parent, kids in children.items()]
    lines.append("  end")
    return "\n".join(lines) + "\n"
