//! Operator control over MQTT (issue 4, in progress): signed control documents so far.

pub mod document;
