mod glob;
mod manifest;
mod patchfile;
mod pod;
mod pointer;
mod select;
mod transforms;
mod yaml;
fn main() {}
