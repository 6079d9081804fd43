#!/usr/bin/python3
"""A fare-gate lane I/O board written without faregate's code: Python and pymodbus (Debian
python3-pymodbus), Modbus TCP on loopback, its own register layout chosen from README "I/O board
over Modbus" and hardware/io-board.md (pymodbus_board.json is the map faregated is given for it):

  discrete inputs 100-109  beams, 1 = interrupted: unpaid detection high/low (100, 101), unpaid
                           monitoring (102, 103), buffer (104, 105), paid monitoring (106, 107),
                           paid detection (108, 109)
  discrete input  110      fire-alarm contact, normally closed: 1 = no alarm
  discrete input  111      UPS power contact, normally closed: 1 = mains present
  coils 200-207            flap open entry, flap open exit, flap retract, unpaid green arrow,
                           unpaid red cross, paid green arrow, paid red cross, buzzer
  holding register 300     heartbeat: any new value feeds the watchdog

Watchdog: no new heartbeat value for 1 s retracts the flaps, whatever the coils say, until a new
heartbeat value is followed by a write to a flap coil. The fire contact opens the flaps by itself
(the relay in series, io-board.md), whatever the controller does.

Standard input, one command a line: `beam ADDRESS 0|1`, `fire on|off`, `power on|off`, `quit`.
Standard output: `port N` once listening, then `flaps STATE` whenever what the flaps do changes
(close, open-entry, open-exit, retract) and `lamps UNPAID PAID` when the lamps change.
"""
import asyncio
import sys
import threading
import time

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server.async_io import ModbusTcpServer

WATCHDOG_S = 1.0
FLAP_COILS = (200, 201, 202)


class Board:
    def __init__(self):
        self.inputs = {a: 0 for a in range(100, 110)}
        self.inputs[110] = 1
        self.inputs[111] = 1
        self.coils = {a: 0 for a in range(200, 208)}
        self.heartbeat = None
        self.last_beat = None
        self.tripped = True  # no controller yet: retracted
        self.beat_since_trip = False
        self.lock = threading.Lock()
        self.shown = None

    def flaps(self):
        if self.inputs[110] == 0 or self.tripped:
            return "retract"
        entry, exit_, retract = (self.coils[a] for a in FLAP_COILS)
        if retract:
            return "retract"
        if entry and not exit_:
            return "open-entry"
        if exit_ and not entry:
            return "open-exit"
        return "close"

    def lamps(self):
        def lamp(green, red):
            g, r = self.coils[green], self.coils[red]
            return "green-arrow" if g and not r else "red-cross" if r and not g else "off"

        return f"{lamp(203, 204)} {lamp(205, 206)}"

    def report(self):
        shown = (self.flaps(), self.lamps())
        if shown != self.shown:
            if self.shown is None or shown[0] != self.shown[0]:
                print(f"flaps {shown[0]}", flush=True)
            if self.shown is None or shown[1] != self.shown[1]:
                print(f"lamps {shown[1]}", flush=True)
            self.shown = shown

    def wrote_coils(self, address, values):
        with self.lock:
            for i, v in enumerate(values):
                self.coils[address + i] = 1 if v else 0
            if self.tripped and self.beat_since_trip and any(a in FLAP_COILS for a in range(address, address + len(values))):
                self.tripped = False
            self.report()

    def wrote_heartbeat(self, value):
        with self.lock:
            if value != self.heartbeat:
                self.heartbeat = value
                self.last_beat = time.monotonic()
                if self.tripped:
                    self.beat_since_trip = True

    def watch(self):
        with self.lock:
            if not self.tripped and (self.last_beat is None or time.monotonic() - self.last_beat > WATCHDOG_S):
                self.tripped = True
                self.beat_since_trip = False
            self.report()


class Block(ModbusSequentialDataBlock):
    """A data block that tells the board what the controller wrote and reads the board's state."""

    def __init__(self, board, kind):
        super().__init__(0, [0] * 400)
        self.board = board
        self.kind = kind

    def getValues(self, address, count=1):
        with self.board.lock:
            if self.kind == "di":
                return [self.board.inputs.get(a, 0) for a in range(address, address + count)]
            if self.kind == "co":
                return [self.board.coils.get(a, 0) for a in range(address, address + count)]
            if self.kind == "hr":
                return [self.board.heartbeat or 0 if a == 300 else 0 for a in range(address, address + count)]
        return [0] * count

    def setValues(self, address, values):
        if not isinstance(values, list):
            values = [values]
        if self.kind == "co":
            self.board.wrote_coils(address, values)
        elif self.kind == "hr" and address == 300:
            self.board.wrote_heartbeat(values[0])


def commands(board, loop):
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        with board.lock:
            if words[0] == "beam" and len(words) == 3:
                board.inputs[int(words[1])] = int(words[2])
            elif words[0] == "fire":
                board.inputs[110] = 0 if words[1] == "on" else 1
            elif words[0] == "power":
                board.inputs[111] = 1 if words[1] == "on" else 0
            elif words[0] == "quit":
                break
            board.report()
    loop.call_soon_threadsafe(loop.stop)


async def main():
    board = Board()
    slave = ModbusSlaveContext(
        di=Block(board, "di"), co=Block(board, "co"), hr=Block(board, "hr"), ir=Block(board, "ir"),
        zero_mode=True)
    server = ModbusTcpServer(ModbusServerContext(slaves=slave, single=True), address=("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    print(f"port {server.server.sockets[0].getsockname()[1]}", flush=True)
    board.report()
    threading.Thread(target=commands, args=(board, loop), daemon=True).start()
    while True:
        board.watch()
        await asyncio.sleep(0.02)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except RuntimeError:
        pass  # the loop was stopped by `quit` or the end of standard input
