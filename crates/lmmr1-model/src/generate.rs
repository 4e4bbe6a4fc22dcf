//! Generation: not implemented yet (see the next commits).
