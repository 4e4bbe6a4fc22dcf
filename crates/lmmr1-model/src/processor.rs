//! Image processor: not implemented yet (see the next commits).
