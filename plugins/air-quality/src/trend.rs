//! Trend alerts: warn before the AQI crosses a level, and while it is above it.
//!
//! [`project`] fits a least-squares line through recent `(time, AQI)` points and reads it
//! a horizon ahead. [`TrendAlert`] turns each hourly `(now, current AQI, projection)` into
//! transitions of two alerts:
//!
//! * **forecast**, raised while the AQI is still below the level but the rising trend
//!   projects it at or above the level within the horizon; cleared when the projection
//!   falls below `level − hysteresis`, or when the level is actually reached (the
//!   exceeded alert takes over);
//! * **exceeded**, raised when the AQI reaches the level and cleared only once it is below
//!   `level − hysteresis`.
//!
//! The hysteresis keeps an AQI hovering around the level from raising and clearing an
//! alert every hour.

use serde::{Deserialize, Serialize};

use crate::averaging::HOUR_MS;

/// A straight-line trend read ahead.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    /// Slope of the fitted line, AQI points per hour.
    pub slope_per_hour: f64,
    /// The fitted line's value `horizon_ms` after the newest point.
    pub projected: f64,
}

/// Least-squares line through `points` (`(Unix ms, AQI)`, any order), read `horizon_ms`
/// after the newest point.
///
/// Points with a non-finite AQI are ignored; `None` with fewer than three usable points
/// or when they all share one time.
pub fn project(points: &[(i64, f64)], horizon_ms: i64) -> Option<Projection> {
    let usable: Vec<(i64, f64)> = points
        .iter()
        .copied()
        .filter(|(_, aqi)| aqi.is_finite())
        .collect();
    if usable.len() < 3 {
        return None;
    }
    let newest = usable.iter().map(|&(ts, _)| ts).max()?;
    // Hours relative to the newest point (so never positive) keep the numbers small and
    // well conditioned.
    let hours = |ts: i64| -(newest.abs_diff(ts) as f64) / HOUR_MS as f64;
    let n = usable.len() as f64;
    let mean_t = usable.iter().map(|&(ts, _)| hours(ts)).sum::<f64>() / n;
    let mean_y = usable.iter().map(|&(_, aqi)| aqi).sum::<f64>() / n;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for &(ts, aqi) in &usable {
        let dt = hours(ts) - mean_t;
        sxx += dt * dt;
        sxy += dt * (aqi - mean_y);
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope_per_hour = sxy / sxx;
    Some(Projection {
        slope_per_hour,
        projected: mean_y + slope_per_hour * (horizon_ms as f64 / HOUR_MS as f64 - mean_t),
    })
}

/// Settings of a [`TrendAlert`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrendConfig {
    /// The AQI level watched; 100 by default (the air-quality standard in both indices).
    pub level: f64,
    /// How far ahead the trend is read, ms; 6 hours by default.
    pub horizon_ms: i64,
    /// How far below the level a value must fall to clear an alert; 10 by default.
    pub hysteresis: f64,
    /// A forecast is raised only on a slope steeper than this, AQI points per hour;
    /// 0 by default (any rise).
    pub min_slope_per_hour: f64,
}

impl Default for TrendConfig {
    fn default() -> Self {
        TrendConfig {
            level: 100.0,
            horizon_ms: 6 * HOUR_MS,
            hysteresis: 10.0,
            min_slope_per_hour: 0.0,
        }
    }
}

/// Why a forecast alert ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForecastEnd {
    /// The projection fell below `level − hysteresis`.
    Receded,
    /// The AQI reached the level; the exceeded alert is raised instead.
    Exceeded,
}

/// A change of alert state, to be reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Transition {
    /// The trend projects the level within the horizon.
    ForecastRaised {
        /// Unix ms of the update.
        at_ms: i64,
        /// The AQI at the update.
        current: f64,
        /// The projected AQI.
        projected: f64,
        /// The trend's slope, AQI points per hour.
        slope_per_hour: f64,
    },
    /// The forecast no longer holds.
    ForecastCleared {
        /// Unix ms of the update.
        at_ms: i64,
        /// Why it ended.
        reason: ForecastEnd,
    },
    /// The AQI reached the level.
    ExceededRaised {
        /// Unix ms of the update.
        at_ms: i64,
        /// The AQI at the update.
        current: f64,
    },
    /// The AQI fell below `level − hysteresis`.
    ExceededCleared {
        /// Unix ms of the update.
        at_ms: i64,
        /// The AQI at the update.
        current: f64,
    },
}

/// The two alerts' state; serializable so that it survives a plugin restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendAlert {
    config: TrendConfig,
    /// When the forecast alert was raised, while it is active.
    forecast_since_ms: Option<i64>,
    /// When the exceeded alert was raised, while it is active.
    exceeded_since_ms: Option<i64>,
}

impl TrendAlert {
    /// Both alerts inactive.
    pub fn new(config: TrendConfig) -> Self {
        TrendAlert {
            config,
            forecast_since_ms: None,
            exceeded_since_ms: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &TrendConfig {
        &self.config
    }

    /// When the active forecast alert was raised.
    pub fn forecast_since_ms(&self) -> Option<i64> {
        self.forecast_since_ms
    }

    /// When the active exceeded alert was raised.
    pub fn exceeded_since_ms(&self) -> Option<i64> {
        self.exceeded_since_ms
    }

    /// Takes the hourly update and returns what changed, in order.
    ///
    /// A non-finite `current` changes nothing. Without a projection (too few points) an
    /// active forecast stays as it is and none is raised.
    pub fn update(
        &mut self,
        now_ms: i64,
        current: f64,
        projection: Option<Projection>,
    ) -> Vec<Transition> {
        let mut transitions = Vec::new();
        if !current.is_finite() {
            return transitions;
        }
        let TrendConfig {
            level, hysteresis, ..
        } = self.config;
        match self.exceeded_since_ms {
            None if current >= level => {
                if self.forecast_since_ms.take().is_some() {
                    transitions.push(Transition::ForecastCleared {
                        at_ms: now_ms,
                        reason: ForecastEnd::Exceeded,
                    });
                }
                self.exceeded_since_ms = Some(now_ms);
                transitions.push(Transition::ExceededRaised {
                    at_ms: now_ms,
                    current,
                });
            }
            Some(_) if current < level - hysteresis => {
                self.exceeded_since_ms = None;
                transitions.push(Transition::ExceededCleared {
                    at_ms: now_ms,
                    current,
                });
            }
            _ => {}
        }
        if self.exceeded_since_ms.is_some() {
            return transitions;
        }
        if let Some(p) = projection {
            match self.forecast_since_ms {
                None if p.projected >= level
                    && p.slope_per_hour > self.config.min_slope_per_hour =>
                {
                    self.forecast_since_ms = Some(now_ms);
                    transitions.push(Transition::ForecastRaised {
                        at_ms: now_ms,
                        current,
                        projected: p.projected,
                        slope_per_hour: p.slope_per_hour,
                    });
                }
                Some(_) if p.projected < level - hysteresis => {
                    self.forecast_since_ms = None;
                    transitions.push(Transition::ForecastCleared {
                        at_ms: now_ms,
                        reason: ForecastEnd::Receded,
                    });
                }
                _ => {}
            }
        }
        transitions
    }
}
