//! The bands of both standards: names, colours and health advice in English and Thai.
//!
//! PCD texts: the Thai advice is the PCD's 2023 wording as air4thai shows it; the English
//! is a translation made for this plugin. EPA texts: the English cautionary statements
//! are the EPA's for particle pollution (AQI Technical Assistance Document, Table 5),
//! split into the part for sensitive groups and the part for everyone else; the Thai is
//! a translation made for this plugin. Sources in `AQI.md`.

use serde::Serialize;

use super::Standard;

/// One band of an index scale.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Band {
    /// The standard the band belongs to.
    pub standard: Standard,
    /// Position in the standard's scale, 0 for the cleanest band.
    pub index: usize,
    /// Lowest index value in the band.
    pub aqi_min: u32,
    /// Highest index value in the band; `None` for the open top band.
    pub aqi_max: Option<u32>,
    /// Name in English.
    pub name_en: &'static str,
    /// Name in Thai.
    pub name_th: &'static str,
    /// Colour name in English.
    pub colour_en: &'static str,
    /// Colour name in Thai.
    pub colour_th: &'static str,
    /// Colour as `#RRGGBB`.
    pub colour_hex: &'static str,
    /// Advice for the general public, English, one item per line of advice.
    pub general_en: &'static [&'static str],
    /// Advice for the general public, Thai.
    pub general_th: &'static [&'static str],
    /// Advice for sensitive groups, English; the same as the general advice where the
    /// standard gives one text for everyone, empty where it gives none.
    pub sensitive_en: &'static [&'static str],
    /// Advice for sensitive groups, Thai.
    pub sensitive_th: &'static [&'static str],
}

/// The bands of a standard, lowest first.
pub(super) fn of(standard: Standard) -> &'static [Band] {
    match standard {
        Standard::ThaiPcd2023 => &PCD,
        Standard::UsEpa2024 => &EPA,
    }
}

const MASK_OUTDOORS_TH: &str = "ใช้อุปกรณ์ป้องกันตนเอง เช่น หน้ากากป้องกัน PM2.5 ทุกครั้งที่ออกนอกอาคาร";
const MASK_OUTDOORS_EN: &str =
    "Wear personal protective equipment such as a PM2.5 mask whenever you go outdoors.";
const REDUCE_STRENUOUS_TH: &str = "ลดระยะเวลาการทำกิจกรรมหรือการออกกำลังกายกลางแจ้งที่ใช้แรงมาก";
const REDUCE_STRENUOUS_EN: &str =
    "Reduce the time spent on strenuous outdoor activities or exercise.";

const PCD_EVERYONE_NORMAL_TH: &[&str] = &["ประชาชนทุกคนสามารถดำเนินชีวิตได้ตามปกติ"];
const PCD_EVERYONE_NORMAL_EN: &[&str] = &["Everyone can go about daily life as usual."];
const PCD_EVERYONE_RED_TH: &[&str] = &[
    "งดกิจกรรมกลางแจ้ง",
    "หากมีความจำเป็นต้องทำกิจกรรมกลางแจ้งให้ใช้อุปกรณ์ป้องกันตนเองทุกครั้ง เช่น หน้ากากป้องกัน PM2.5",
    "หากมีอาการผิดปกติให้รีบไปพบแพทย์",
    "ผู้ที่มีโรคประจำตัว ควรอยู่ในพื้นที่ปลอดภัยจากมลพิษทางอากาศ ให้เตรียมยาและอุปกรณ์ที่จำเป็นให้พร้อมและปฏิบัติตามคำแนะนำของแพทย์อย่างเคร่งครัด",
];
const PCD_EVERYONE_RED_EN: &[&str] = &[
    "Stop outdoor activities.",
    "If outdoor activity cannot be avoided, always wear personal protective equipment such as a PM2.5 mask.",
    "See a doctor promptly if unusual symptoms appear.",
    "People with underlying conditions should stay in places protected from air pollution, keep the medicines and equipment they need ready and strictly follow their doctor's advice.",
];

static PCD: [Band; 5] = [
    Band {
        standard: Standard::ThaiPcd2023,
        index: 0,
        aqi_min: 0,
        aqi_max: Some(25),
        name_en: "Very good",
        name_th: "ดีมาก",
        colour_en: "Blue",
        colour_th: "ฟ้า",
        colour_hex: "#3BCCFF",
        general_en: PCD_EVERYONE_NORMAL_EN,
        general_th: PCD_EVERYONE_NORMAL_TH,
        sensitive_en: PCD_EVERYONE_NORMAL_EN,
        sensitive_th: PCD_EVERYONE_NORMAL_TH,
    },
    Band {
        standard: Standard::ThaiPcd2023,
        index: 1,
        aqi_min: 26,
        aqi_max: Some(50),
        name_en: "Good",
        name_th: "ดี",
        colour_en: "Green",
        colour_th: "เขียว",
        colour_hex: "#92D050",
        general_en: &["Outdoor activities can be done as usual."],
        general_th: &["สามารถทำกิจกรรมกลางแจ้งได้ตามปกติ"],
        sensitive_en: &["Watch for unusual symptoms such as frequent coughing, difficulty breathing, rapid breathing, shortness of breath, wheezing, chest tightness, chest pain, palpitations, nausea, unusual fatigue or dizziness."],
        sensitive_th: &["ควรสังเกตอาการผิดปกติ เช่น ไอบ่อย หายใจลำบาก หายใจถี่ หายใจไม่ออก หายใจมีเสียงวี้ด แน่นหน้าอก เจ็บหน้าอก ใจสั่น คลื่นไส้ เมื่อยล้าผิดปกติ หรือ วิงเวียนศีรษะ"],
    },
    Band {
        standard: Standard::ThaiPcd2023,
        index: 2,
        aqi_min: 51,
        aqi_max: Some(100),
        name_en: "Moderate",
        name_th: "ปานกลาง",
        colour_en: "Yellow",
        colour_th: "เหลือง",
        colour_hex: "#FFFF00",
        general_en: &[REDUCE_STRENUOUS_EN],
        general_th: &[REDUCE_STRENUOUS_TH],
        sensitive_en: &[
            MASK_OUTDOORS_EN,
            REDUCE_STRENUOUS_EN,
            "Consult a doctor promptly if unusual symptoms appear.",
        ],
        sensitive_th: &[
            MASK_OUTDOORS_TH,
            REDUCE_STRENUOUS_TH,
            "หากมีอาการผิดปกติให้รีบปรึกษาแพทย์",
        ],
    },
    Band {
        standard: Standard::ThaiPcd2023,
        index: 3,
        aqi_min: 101,
        aqi_max: Some(200),
        name_en: "Starting to affect health",
        name_th: "เริ่มมีผลกระทบต่อสุขภาพ",
        colour_en: "Orange",
        colour_th: "ส้ม",
        colour_hex: "#FFA200",
        general_en: &[
            MASK_OUTDOORS_EN,
            "Limit the time spent on strenuous outdoor activities or exercise.",
            "Watch for unusual symptoms such as coughing, difficulty breathing or eye irritation.",
        ],
        general_th: &[
            MASK_OUTDOORS_TH,
            "จำกัดระยะเวลาในการทำกิจกรรมหรือการออกกำลังกายกลางแจ้งที่ใช้แรงมาก",
            "ควรสังเกตอาการผิดปกติ เช่น ไอ หายใจลำบาก ระคายเคืองตา",
        ],
        sensitive_en: &[
            MASK_OUTDOORS_EN,
            "Avoid strenuous outdoor activities or exercise.",
            "Follow your doctor's advice, and see a doctor promptly if unusual symptoms appear.",
        ],
        sensitive_th: &[
            MASK_OUTDOORS_TH,
            "เลี่ยงการทำกิจกรรมหรือการออกกำลังกายกลางแจ้งที่ใช้แรงมาก",
            "ให้ปฏิบัติตามคำแนะนำของแพทย์ หากมีอาการผิดปกติให้รีบไปพบแพทย์",
        ],
    },
    Band {
        standard: Standard::ThaiPcd2023,
        index: 4,
        aqi_min: 201,
        aqi_max: None,
        name_en: "Affecting health",
        name_th: "มีผลกระทบต่อสุขภาพ",
        colour_en: "Red",
        colour_th: "แดง",
        colour_hex: "#F04646",
        general_en: PCD_EVERYONE_RED_EN,
        general_th: PCD_EVERYONE_RED_TH,
        sensitive_en: PCD_EVERYONE_RED_EN,
        sensitive_th: PCD_EVERYONE_RED_TH,
    },
];

/// An EPA particle-pollution cautionary statement for its sensitive groups.
macro_rules! epa_sensitive_en {
    ($action:literal) => {
        concat!(
            "People with heart or lung disease, older adults, children, and people of lower socioeconomic status should ",
            $action
        )
    };
}

/// The Thai rendering of [`epa_sensitive_en`].
macro_rules! epa_sensitive_th {
    ($action:literal) => {
        concat!(
            "ผู้ป่วยโรคหัวใจหรือโรคปอด ผู้สูงอายุ เด็ก และผู้มีฐานะทางเศรษฐกิจและสังคมต่ำ ควร",
            $action
        )
    };
}

static EPA: [Band; 6] = [
    Band {
        standard: Standard::UsEpa2024,
        index: 0,
        aqi_min: 0,
        aqi_max: Some(50),
        name_en: "Good",
        name_th: "ดี",
        colour_en: "Green",
        colour_th: "เขียว",
        colour_hex: "#00E400",
        general_en: &[],
        general_th: &[],
        sensitive_en: &[],
        sensitive_th: &[],
    },
    Band {
        standard: Standard::UsEpa2024,
        index: 1,
        aqi_min: 51,
        aqi_max: Some(100),
        name_en: "Moderate",
        name_th: "ปานกลาง",
        colour_en: "Yellow",
        colour_th: "เหลือง",
        colour_hex: "#FFFF00",
        general_en: &[],
        general_th: &[],
        sensitive_en: &[
            "Unusually sensitive people should consider reducing prolonged or heavy exertion.",
        ],
        sensitive_th: &["ผู้ที่ไวต่อมลพิษเป็นพิเศษควรพิจารณาลดการออกแรงหนักหรือการออกแรงเป็นเวลานาน"],
    },
    Band {
        standard: Standard::UsEpa2024,
        index: 2,
        aqi_min: 101,
        aqi_max: Some(150),
        name_en: "Unhealthy for Sensitive Groups",
        name_th: "มีผลต่อสุขภาพของกลุ่มเสี่ยง",
        colour_en: "Orange",
        colour_th: "ส้ม",
        colour_hex: "#FF7E00",
        general_en: &[],
        general_th: &[],
        sensitive_en: &[epa_sensitive_en!("reduce prolonged or heavy exertion.")],
        sensitive_th: &[epa_sensitive_th!("ลดการออกแรงหนักหรือการออกแรงเป็นเวลานาน")],
    },
    Band {
        standard: Standard::UsEpa2024,
        index: 3,
        aqi_min: 151,
        aqi_max: Some(200),
        name_en: "Unhealthy",
        name_th: "มีผลต่อสุขภาพ",
        colour_en: "Red",
        colour_th: "แดง",
        colour_hex: "#FF0000",
        general_en: &["Everyone else should reduce prolonged or heavy exertion."],
        general_th: &["ประชาชนทั่วไปควรลดการออกแรงหนักหรือการออกแรงเป็นเวลานาน"],
        sensitive_en: &[epa_sensitive_en!("avoid prolonged or heavy exertion.")],
        sensitive_th: &[epa_sensitive_th!(
            "หลีกเลี่ยงการออกแรงหนักหรือการออกแรงเป็นเวลานาน"
        )],
    },
    Band {
        standard: Standard::UsEpa2024,
        index: 4,
        aqi_min: 201,
        aqi_max: Some(300),
        name_en: "Very Unhealthy",
        name_th: "มีผลต่อสุขภาพมาก",
        colour_en: "Purple",
        colour_th: "ม่วง",
        colour_hex: "#8F3F97",
        general_en: &["Everyone else should avoid prolonged or heavy exertion."],
        general_th: &["ประชาชนทั่วไปควรหลีกเลี่ยงการออกแรงหนักหรือการออกแรงเป็นเวลานาน"],
        sensitive_en: &[epa_sensitive_en!("avoid all physical activity outdoors.")],
        sensitive_th: &[epa_sensitive_th!("งดกิจกรรมทางกายกลางแจ้งทั้งหมด")],
    },
    Band {
        standard: Standard::UsEpa2024,
        index: 5,
        aqi_min: 301,
        aqi_max: None,
        name_en: "Hazardous",
        name_th: "อันตราย",
        colour_en: "Maroon",
        colour_th: "น้ำตาลแดง",
        colour_hex: "#7E0023",
        general_en: &["Everyone should avoid all physical activity outdoors."],
        general_th: &["ทุกคนควรงดกิจกรรมทางกายกลางแจ้งทั้งหมด"],
        sensitive_en: &[epa_sensitive_en!(
            "remain indoors and keep activity levels low."
        )],
        sensitive_th: &[epa_sensitive_th!("อยู่ในอาคารและทำกิจกรรมที่ออกแรงน้อย")],
    },
];
