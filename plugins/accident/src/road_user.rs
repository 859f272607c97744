//! The road users the plugin tells apart, and which of the detector's labels are which.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A kind of road user. In config JSON and in events it is spelled in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoadUser {
    /// A car, pickup or van.
    Car,
    /// A motorcycle or scooter (with its rider).
    Motorcycle,
    /// A bicycle (with its rider).
    Bicycle,
    /// A bus.
    Bus,
    /// A truck.
    Truck,
    /// A person on foot.
    Person,
}

impl RoadUser {
    /// Every road user, in the order counts list them.
    pub const ALL: [RoadUser; 6] = [
        RoadUser::Car,
        RoadUser::Motorcycle,
        RoadUser::Bicycle,
        RoadUser::Bus,
        RoadUser::Truck,
        RoadUser::Person,
    ];

    /// The name used in config, events and metric names.
    pub fn as_str(self) -> &'static str {
        match self {
            RoadUser::Car => "car",
            RoadUser::Motorcycle => "motorcycle",
            RoadUser::Bicycle => "bicycle",
            RoadUser::Bus => "bus",
            RoadUser::Truck => "truck",
            RoadUser::Person => "person",
        }
    }

    /// A vehicle (everything but a person on foot).
    pub fn is_vehicle(self) -> bool {
        self != RoadUser::Person
    }

    /// A road user without a body around them: hurt most in a collision.
    pub fn is_vulnerable(self) -> bool {
        matches!(
            self,
            RoadUser::Person | RoadUser::Motorcycle | RoadUser::Bicycle
        )
    }

    /// The COCO detector's labels for road users, each as itself.
    pub fn coco_defaults() -> BTreeMap<String, RoadUser> {
        RoadUser::ALL
            .iter()
            .map(|&u| (u.as_str().to_string(), u))
            .collect()
    }
}
