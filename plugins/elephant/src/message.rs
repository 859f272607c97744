//! The alarm's texts, in Thai and English: how many elephants, where they are going,
//! and what to do.
//!
//! Zones are named in the config; the Thai text translates the common English zone
//! names (`forest`, `village`, `road`, ...) and uses any other name as it is written, so
//! zones may also be named in Thai.

use crate::direction::Direction;

/// Thai advice closing every message.
const ADVICE_TH: &str = "โปรดอยู่ในที่ปลอดภัย";
/// English advice closing every message.
const ADVICE_EN: &str = "stay indoors";

/// Thai words for common zone names.
const ZONES_TH: [(&str, &str); 12] = [
    ("forest", "ป่า"),
    ("jungle", "ป่า"),
    ("village", "หมู่บ้าน"),
    ("community", "ชุมชน"),
    ("road", "ถนน"),
    ("farm", "ไร่"),
    ("field", "ทุ่ง"),
    ("paddy", "นาข้าว"),
    ("plantation", "สวน"),
    ("school", "โรงเรียน"),
    ("temple", "วัด"),
    ("river", "แม่น้ำ"),
];

/// The Thai and the English text for `count` elephants moving in `direction`, with
/// `destination` the protected zone (`approach.to`) when the herd approaches it.
pub fn texts(count: u32, direction: &Direction, destination: Option<&str>) -> (String, String) {
    let subject_th = format!("ช้างป่า {count} ตัว");
    let subject_en = match count {
        1 => "1 wild elephant".to_string(),
        n => format!("{n} wild elephants"),
    };
    let from = direction.from_zone.as_deref();
    let to = direction.to_zone.as_deref();
    let destination = destination.filter(|_| direction.approaching);
    let movement = match (from, to, destination) {
        (Some(from), Some(to), _) if from != to => Some((
            format!("เคลื่อนจากฝั่ง{}ไปทาง{}", th(from), th(to)),
            format!("moving from the {} toward the {}", en(from), en(to)),
        )),
        (_, _, Some(destination)) => Some((
            format!("กำลังมุ่งหน้าไปทาง{}", th(destination)),
            format!("heading for the {}", en(destination)),
        )),
        (_, Some(here), None) => Some((
            format!("อยู่บริเวณ{}", th(here)),
            format!("in the {}", en(here)),
        )),
        _ => None,
    };
    match movement {
        Some((th, en)) => (
            format!("{subject_th} {th} — {ADVICE_TH}"),
            format!("{subject_en} {en} — {ADVICE_EN}"),
        ),
        None => (
            format!("{subject_th} — {ADVICE_TH}"),
            format!("{subject_en} — {ADVICE_EN}"),
        ),
    }
}

/// A zone's name in Thai.
fn th(zone: &str) -> &str {
    ZONES_TH
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(zone))
        .map_or(zone, |&(_, thai)| thai)
}

/// A zone's name in English prose: `rice-field` reads `rice field`.
fn en(zone: &str) -> String {
    zone.replace(['-', '_'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direction::Heading;

    fn direction(from: Option<&str>, to: Option<&str>, approaching: bool) -> Direction {
        Direction {
            heading: Heading::LeftToRight,
            from_zone: from.map(Into::into),
            to_zone: to.map(Into::into),
            approaching,
        }
    }

    #[test]
    fn from_one_zone_to_another() {
        let (th, en) = texts(
            2,
            &direction(Some("forest"), Some("village"), true),
            Some("village"),
        );
        assert_eq!(th, "ช้างป่า 2 ตัว เคลื่อนจากฝั่งป่าไปทางหมู่บ้าน — โปรดอยู่ในที่ปลอดภัย");
        assert_eq!(
            en,
            "2 wild elephants moving from the forest toward the village — stay indoors"
        );
    }

    #[test]
    fn heading_for_the_protected_zone() {
        let (th, en) = texts(1, &direction(Some("forest"), None, true), Some("village"));
        assert_eq!(th, "ช้างป่า 1 ตัว กำลังมุ่งหน้าไปทางหมู่บ้าน — โปรดอยู่ในที่ปลอดภัย");
        assert_eq!(en, "1 wild elephant heading for the village — stay indoors");
    }

    #[test]
    fn in_one_zone_or_unknown() {
        let (th, en) = texts(
            3,
            &direction(Some("rice-field"), Some("rice-field"), false),
            None,
        );
        assert_eq!(th, "ช้างป่า 3 ตัว อยู่บริเวณrice-field — โปรดอยู่ในที่ปลอดภัย");
        assert_eq!(en, "3 wild elephants in the rice field — stay indoors");
        let (th, en) = texts(1, &direction(None, None, false), Some("village"));
        assert_eq!(th, "ช้างป่า 1 ตัว — โปรดอยู่ในที่ปลอดภัย");
        assert_eq!(en, "1 wild elephant — stay indoors");
    }
}
