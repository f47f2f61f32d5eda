"""Small geometry helpers used by the Tide demo."""

import math
from dataclasses import dataclass


@dataclass
class Point:
    x: float
    y: float

    def distance_to(self, other: "Point") -> float:
        return math.hypot(self.x - other.x, self.y - other.y)


def add(a: float, b: float) -> float:
    return a + b


def subtract(a: float, b: float) -> float:
    return a - b


def perimeter(points: list[Point]) -> float:
    total = 0.0
    for i, point in enumerate(points):
        total += point.distance_to(points[(i + 1) % len(points)])
    return total


if __name__ == "__main__":
    square = [Point(0, 0), Point(1, 0), Point(1, 1), Point(0, 1)]
    print(perimeter(square))
