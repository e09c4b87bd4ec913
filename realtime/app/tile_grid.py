"""The tiles of the open sources (`TileGrid`): laid out in a near-square grid, or the empty state
while there is none, and which one is selected."""

from __future__ import annotations

import math
from collections.abc import Callable

from PyQt6.QtWidgets import QGridLayout, QStackedWidget, QWidget

from .empty_state import EmptyState
from .settings import AppSettings
from .tile import Tile
from .worker import StreamWorker


class TileGrid:
    """`on_close(tile)` hears a tile's close button; `on_selected(tile)` a new selection.
    The empty state offers `webcams()` and the recent and last sources of `settings`."""

    def __init__(self, stack: QStackedWidget, grid_host: QWidget, grid: QGridLayout,
                 empty: EmptyState, settings: AppSettings, *,
                 webcams: Callable[[], list], on_close: Callable[[Tile], None],
                 on_selected: Callable[[Tile], None]) -> None:
        self._stack = stack
        self._grid_host = grid_host
        self._grid = grid
        self._empty = empty
        self._settings = settings
        self._webcams = webcams
        self._on_close = on_close
        self._on_selected = on_selected
        self.tiles: list[Tile] = []
        self.selected: Tile | None = None

    @property
    def selected_worker(self) -> StreamWorker | None:
        return self.selected.worker if self.selected is not None else None

    def tile_of(self, worker: StreamWorker) -> Tile | None:
        return next((t for t in self.tiles if t.worker is worker), None)

    def add(self, tile: Tile) -> None:
        tile.close_requested.connect(self._on_close)
        tile.activated.connect(self.select)
        self.tiles.append(tile)
        self.relayout()
        self.select(tile)
        self.refresh_empty_state()

    def take(self, tile: Tile) -> bool:
        """Take `tile` out of the grid (False: it is not in it); `settle` once its worker is
        dealt with."""
        if tile not in self.tiles:
            return False
        self.tiles.remove(tile)
        self._grid.removeWidget(tile)
        tile.hide()
        tile.deleteLater()
        return True

    def settle(self, removed: Tile) -> None:
        """After a tile was taken: another one selected, the grid laid out again."""
        if self.selected is removed:
            self.selected = None
            if self.tiles:
                self.select(self.tiles[-1])
        self.relayout()
        self.refresh_empty_state()

    def select(self, tile: Tile) -> None:
        self.selected = tile
        for t in self.tiles:
            t.set_selected(t is tile)
        self._on_selected(tile)

    def relayout(self) -> None:
        grid = self._grid
        while grid.count():
            grid.takeAt(0)
        n = len(self.tiles)
        cols = max(1, math.ceil(math.sqrt(n)))
        rows = max(1, math.ceil(n / cols))
        for i, tile in enumerate(self.tiles):
            grid.addWidget(tile, i // cols, i % cols)
        for r in range(grid.rowCount()):
            grid.setRowStretch(r, 1 if r < rows else 0)
        for c in range(grid.columnCount()):
            grid.setColumnStretch(c, 1 if c < cols else 0)

    def refresh_empty_state(self) -> None:
        if self.tiles:
            self._stack.setCurrentWidget(self._grid_host)
        else:
            self._empty.populate(self._webcams(), self._settings.recent_sources,
                                 self._settings.last_sources)
            self._stack.setCurrentWidget(self._empty)
