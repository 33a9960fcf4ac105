//! A hostile machine: an environment full of personal data, and hostile files where the
//! crate reads and writes (links, FIFOs, other users' files, modes).

mod hostile_environment;
mod hostile_files;
