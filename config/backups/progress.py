"""How a long backup, restore or verification tells its caller where it is.

Celery tasks get ``LogProgress`` (one log line per step); the management commands get
``ConsoleProgress``: the steps on stdout and a bar (tables, bytes) on stderr while a terminal
watches, plain lines otherwise.
"""

import logging

from tqdm import tqdm

logger = logging.getLogger("config.backups")


class LogProgress:
    def step(self, message: str) -> None:
        logger.info("%s", message)

    def start(self, *, total: int, unit: str, desc: str) -> None:
        """A measurable part begins (tables dumped, bytes copied)."""

    def advance(self, amount: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


class ConsoleProgress(LogProgress):
    def __init__(self, stdout, stderr):
        self.stdout = stdout
        # The raw stream under a command's OutputWrapper, which would end each redraw of the
        # bar with a newline.
        self.stderr = getattr(stderr, "_out", stderr)
        self._bar = None

    def step(self, message: str) -> None:
        self.finish()
        self.stdout.write(message)

    def start(self, *, total: int, unit: str, desc: str) -> None:
        self.finish()
        byte_units = unit == "B"
        # disable=None: a bar only on a terminal (a cron log gets the step lines alone).
        self._bar = tqdm(
            total=total,
            unit=unit,
            desc=desc,
            file=self.stderr,
            disable=None,
            unit_scale=byte_units,
            unit_divisor=1024 if byte_units else 1000,
            leave=False,
        )

    def advance(self, amount: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(amount)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
