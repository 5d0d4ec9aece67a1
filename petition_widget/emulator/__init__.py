"""An in-memory emulator of the two upstream APIs (Change.org v1 and We the People v1), with fault injection."""
