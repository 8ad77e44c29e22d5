"""Pure decisions over plain data: no I/O, no clock, no database. Unit-tested on their own."""
