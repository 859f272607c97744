//! Where control documents come from: the pole's own topics and its groups' topics.
//!
//! A *target* is what a document is addressed to: `{site}/{pole}` or
//! `{site}/group/{group}`. Targets are ranked by precedence — the site-wide group `all`,
//! then the configured groups in order, then the pole itself — so the more specific
//! document wins where two set the same thing.

/// What a control topic carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `…/cfg/{plugin}/desired`: a desired configuration (`sao` for the runtime).
    Config {
        /// The plugin it configures.
        plugin: String,
    },
    /// `…/deploy/desired`: a desired deployment.
    Deployment,
    /// `…/cmd/alarm/ack`: an operator acknowledges alarms.
    AlarmAck,
    /// `…/msg/{plugin}/{name}`: a message for a plugin's `on-message`.
    Message {
        /// The plugin it is for.
        plugin: String,
        /// The message's name.
        name: String,
    },
}

/// A control topic, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressed {
    /// Index into [`Targets::all`]: higher wins.
    pub rank: usize,
    /// What it carries.
    pub subject: Subject,
}

/// The targets one pole listens to, lowest precedence first.
#[derive(Debug, Clone)]
pub struct Targets {
    site: String,
    /// Target names (`{site}/group/{group}` …, then `{site}/{pole}`).
    names: Vec<String>,
}

impl Targets {
    /// The targets of pole `pole` at `site` in `groups` (the site-wide group first).
    pub fn new(site: &str, pole: &str, groups: &[String]) -> Self {
        let groups =
            std::iter::once(super::config::SITE_GROUP).chain(groups.iter().map(String::as_str));
        let names = groups
            .map(|g| format!("{site}/group/{g}"))
            .chain(std::iter::once(format!("{site}/{pole}")))
            .collect();
        Self {
            site: site.to_string(),
            names,
        }
    }

    /// The filter for the chunks of package `hex` (`sao/v1/{site}/pkg/{hex}/+`).
    pub fn chunk_filter(&self, hex: &str) -> String {
        format!("sao/v1/{}/pkg/{hex}/+", self.site)
    }

    /// The package hex digest and chunk index of a chunk topic.
    pub fn parse_chunk<'t>(&self, topic: &'t str) -> Option<(&'t str, u32)> {
        let rest = topic
            .strip_prefix("sao/v1/")?
            .strip_prefix(self.site.as_str())?
            .strip_prefix("/pkg/")?;
        let (hex, index) = rest.split_once('/')?;
        Some((hex, index.parse().ok()?))
    }

    /// Target names, lowest precedence first.
    pub fn all(&self) -> &[String] {
        &self.names
    }

    /// The name of the target of rank `rank`.
    pub fn name(&self, rank: usize) -> &str {
        &self.names[rank]
    }

    /// The target of rank `rank` as a plugin sees it: `pole`, or `group/{group}`.
    pub fn relative(&self, rank: usize) -> &str {
        let name = self.names[rank]
            .strip_prefix(self.site.as_str())
            .and_then(|n| n.strip_prefix('/'))
            .unwrap_or_default();
        if name.starts_with("group/") {
            name
        } else {
            "pole"
        }
    }

    /// The rank of a target name, if the pole listens to it.
    pub fn rank(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The MQTT filters to subscribe to.
    pub fn filters(&self) -> Vec<String> {
        self.names
            .iter()
            .flat_map(|t| {
                [
                    format!("sao/v1/{t}/cfg/+/desired"),
                    format!("sao/v1/{t}/deploy/desired"),
                    format!("sao/v1/{t}/cmd/alarm/ack"),
                    format!("sao/v1/{t}/msg/+/+"),
                ]
            })
            .collect()
    }

    /// Parses a topic the pole received.
    pub fn parse(&self, topic: &str) -> Option<Addressed> {
        let rest = topic.strip_prefix("sao/v1/")?;
        self.names.iter().enumerate().find_map(|(rank, target)| {
            let subject = rest.strip_prefix(target.as_str())?.strip_prefix('/')?;
            let subject = match subject.split('/').collect::<Vec<_>>()[..] {
                ["cfg", plugin, "desired"] => Subject::Config {
                    plugin: plugin.to_string(),
                },
                ["deploy", "desired"] => Subject::Deployment,
                ["cmd", "alarm", "ack"] => Subject::AlarmAck,
                ["msg", plugin, name] => Subject::Message {
                    plugin: plugin.to_string(),
                    name: name.to_string(),
                },
                _ => return None,
            };
            Some(Addressed { rank, subject })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_parse_to_their_target_and_subject() {
        let t = Targets::new("ccs", "p1", &["bus-stop".into()]);
        assert_eq!(t.all(), ["ccs/group/all", "ccs/group/bus-stop", "ccs/p1"]);
        assert_eq!(
            t.parse("sao/v1/ccs/group/bus-stop/cfg/dimming/desired"),
            Some(Addressed {
                rank: 1,
                subject: Subject::Config {
                    plugin: "dimming".into()
                }
            })
        );
        assert_eq!(
            t.parse("sao/v1/ccs/p1/deploy/desired"),
            Some(Addressed {
                rank: 2,
                subject: Subject::Deployment
            })
        );
        assert_eq!(
            t.parse("sao/v1/ccs/group/all/cmd/alarm/ack"),
            Some(Addressed {
                rank: 0,
                subject: Subject::AlarmAck
            })
        );
        for foreign in [
            "sao/v1/ccs/p2/deploy/desired",
            "sao/v1/ccs/group/other/cfg/dimming/desired",
            "sao/v1/ccs/p1/cfg/dimming/reported",
            "sao/v1/ccs/p1/cfg/a/b/desired",
            "sao/v1/ccs/p10/deploy/desired",
            "sao/v1/ccs/p1/cmd/alarm/nack",
        ] {
            assert_eq!(t.parse(foreign), None, "{foreign}");
        }
        assert_eq!(
            t.parse("sao/v1/ccs/p1/msg/signage/arrivals"),
            Some(Addressed {
                rank: 2,
                subject: Subject::Message {
                    plugin: "signage".into(),
                    name: "arrivals".into()
                }
            })
        );
        assert_eq!(t.relative(2), "pole");
        assert_eq!(t.relative(1), "group/bus-stop");
        assert_eq!(t.parse("sao/v1/ccs/p1/msg/signage"), None);
        // Three targets, each with its config, deployment, alarm-acknowledgement and
        // message topics.
        assert_eq!(t.filters().len(), 12);
        assert!(t
            .filters()
            .contains(&"sao/v1/ccs/p1/cmd/alarm/ack".to_string()));
        assert_eq!(t.parse_chunk("sao/v1/ccs/pkg/abc/3"), Some(("abc", 3)));
        assert_eq!(t.parse_chunk("sao/v1/ccs/pkg/abc/x"), None);
        assert_eq!(t.parse_chunk("sao/v1/other/pkg/abc/3"), None);
        assert_eq!(t.chunk_filter("abc"), "sao/v1/ccs/pkg/abc/+");
    }
}
