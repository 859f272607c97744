//! What the PMS5003 and the SDS011 have in common: the commands both understand, the
//! reading both report, and a [`Parser`] that turns either wire format into [`Message`]s.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::pms5003::{self, Pms5003Parser};
use super::sds011::{self, Sds011Parser};
use super::stream::StreamStats;

/// A particulate sensor's serial protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Plantower PMS5003 (32-byte frames, PM1.0, PM2.5 and PM10 in whole µg/m³).
    Pms5003,
    /// Nova Fitness SDS011 (10-byte frames, PM2.5 and PM10 in tenths of µg/m³).
    Sds011,
}

impl Protocol {
    /// Upper end of the sensor's specified range, in µg/m³: 1000 for the PMS5003 (its
    /// datasheet's "maximum range"), 999.9 for the SDS011.
    pub fn max_ug_m3(self) -> f64 {
        match self {
            Self::Pms5003 => 1000.0,
            Self::Sds011 => 999.9,
        }
    }

    /// Whether the sensor reports PM1.0.
    pub fn reports_pm1(self) -> bool {
        matches!(self, Self::Pms5003)
    }

    /// Length of a data frame, in bytes.
    pub fn frame_len(self) -> usize {
        match self {
            Self::Pms5003 => pms5003::FRAME_LEN,
            Self::Sds011 => sds011::FRAME_LEN,
        }
    }

    /// The bytes of `command` on the wire (to every sensor on the line, for the SDS011).
    pub fn encode(self, command: Command) -> Vec<u8> {
        match self {
            Self::Pms5003 => pms5003::encode_command(command).to_vec(),
            Self::Sds011 => sds011::encode_command(command).to_vec(),
        }
    }

    /// A fresh parser for the sensor's output.
    pub fn parser(self) -> Parser {
        match self {
            Self::Pms5003 => Parser::Pms5003(Pms5003Parser::new()),
            Self::Sds011 => Parser::Sds011(Sds011Parser::new()),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pms5003 => "PMS5003",
            Self::Sds011 => "SDS011",
        })
    }
}

/// A command both sensors understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    /// Stop the fan and laser.
    Sleep,
    /// Start the fan and laser again.
    Wake,
    /// Send a frame every second (the power-on default).
    ActiveMode,
    /// Send a frame only when asked ([`Command::Query`]); "passive" on the PMS5003.
    QueryMode,
    /// Ask for one frame (in query mode).
    Query,
}

/// Mass concentrations reported by a particulate sensor, in µg/m³.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParticulateReading {
    /// PM1.0, when the sensor reports it (PMS5003).
    pub pm1_0: Option<f64>,
    /// PM2.5.
    pub pm2_5: f64,
    /// PM10.
    pub pm10: f64,
}

/// A decoded frame, whichever the protocol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Message {
    /// A measurement.
    Reading(ParticulateReading),
    /// The sensor confirmed a state after a command, or answering a query about it.
    Ack(Command),
    /// A PMS5003 data frame of zeros: the sensor is starting up (after power-on or wake).
    WarmingUp,
    /// A valid reply this driver does not interpret (firmware version, device id, ...).
    OtherReply,
}

/// A streaming parser for either protocol.
#[derive(Debug, Clone)]
pub enum Parser {
    /// PMS5003 frames.
    Pms5003(Pms5003Parser),
    /// SDS011 frames.
    Sds011(Sds011Parser),
}

impl Parser {
    /// Feed the next bytes from the line; returns the messages they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Message> {
        match self {
            Self::Pms5003(p) => p.push(bytes).into_iter().map(Message::from).collect(),
            Self::Sds011(p) => p.push(bytes).into_iter().map(Message::from).collect(),
        }
    }

    /// The parser's counters.
    pub fn stats(&self) -> StreamStats {
        match self {
            Self::Pms5003(p) => p.stats(),
            Self::Sds011(p) => p.stats(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(hex: &str) -> Vec<u8> {
        hex::decode(hex.replace(' ', "")).unwrap()
    }

    #[test]
    fn parses_either_protocol_into_messages() {
        // PyPMS tests/captured_data/PMSx003.hexdump, last frame: PM 0/5/5 µg/m³.
        let mut p = Protocol::Pms5003.parser();
        let pms = "42 4d 00 1c 00 00 00 05 00 05 00 00 00 05 00 05 \
                   00 8a 00 2e 00 17 00 0f 00 00 00 00 97 00 02 34";
        assert_eq!(
            p.push(&bytes(pms)),
            vec![Message::Reading(ParticulateReading {
                pm1_0: Some(0.0),
                pm2_5: 5.0,
                pm10: 5.0
            })]
        );
        // esphome/issues#4572: 4.4 and 5.5 µg/m³.
        let mut s = Protocol::Sds011.parser();
        assert_eq!(
            s.push(&bytes("AA C0 2C 00 37 00 7E 23 04 AB")),
            vec![Message::Reading(ParticulateReading {
                pm1_0: None,
                pm2_5: 4.4,
                pm10: 5.5
            })]
        );
        assert_eq!((p.stats().frames, s.stats().frames), (1, 1));
    }

    #[test]
    fn protocol_properties() {
        assert_eq!(Protocol::Pms5003.to_string(), "PMS5003");
        assert_eq!(Protocol::Sds011.to_string(), "SDS011");
        assert_eq!(Protocol::Sds011.frame_len(), 10);
        assert_eq!(Protocol::Pms5003.frame_len(), 32);
        assert!(Protocol::Pms5003.reports_pm1() && !Protocol::Sds011.reports_pm1());
        assert_eq!(Protocol::Sds011.encode(Command::Query).len(), 19);
        assert_eq!(Protocol::Pms5003.encode(Command::Query).len(), 7);
    }

    #[test]
    fn protocol_names_are_kebab_case() {
        #[derive(Deserialize)]
        struct Spec {
            protocol: Protocol,
        }
        let spec: Spec = toml::from_str("protocol = \"sds011\"").unwrap();
        assert_eq!(spec.protocol, Protocol::Sds011);
        let spec: Spec = toml::from_str("protocol = \"pms5003\"").unwrap();
        assert_eq!(spec.protocol, Protocol::Pms5003);
        assert!(toml::from_str::<Spec>("protocol = \"PMS5003\"").is_err());
    }
}
