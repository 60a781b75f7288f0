"""Plain-text tables with aligned columns: what every benchmark prints."""

from __future__ import annotations

from dataclasses import dataclass, field

Cell = str | int | float


@dataclass
class Table:
    """A titled table; numeric columns are right-aligned, floats shown with ``decimals``."""

    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    decimals: int = 1

    def add(self, *cells: Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(list(cells))

    def render(self) -> str:
        text = [[self._text(cell) for cell in row] for row in self.rows]
        widths = [
            max([len(name), *(len(row[i]) for row in text)]) for i, name in enumerate(self.columns)
        ]
        numeric = [
            bool(self.rows) and all(isinstance(row[i], int | float) for row in self.rows)
            for i in range(len(self.columns))
        ]

        def line(cells: list[str]) -> str:
            parts = [
                cell.rjust(width) if right else cell.ljust(width)
                for cell, width, right in zip(cells, widths, numeric, strict=True)
            ]
            return "  ".join(parts).rstrip()

        rule = "  ".join("-" * width for width in widths)
        out = [self.title, "=" * len(self.title), line(self.columns), rule]
        out.extend(line(row) for row in text)
        out.extend(f"  {note}" for note in self.notes)
        return "\n".join(out)

    def _text(self, cell: Cell) -> str:
        if isinstance(cell, float):
            return f"{cell:.{self.decimals}f}"
        return str(cell)
