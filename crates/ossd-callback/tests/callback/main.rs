//! Tests of ossd-callback, in one binary so the RSA key is generated once.

mod common;
mod deliver;
mod diagnose;
mod policy;
mod render;
mod sign;
mod spec;
mod verify;
