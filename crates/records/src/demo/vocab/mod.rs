//! Word lists the text generator draws from. Pure data.

mod incidents;
mod people;
mod work;

pub(crate) use incidents::TOPICS;
pub(crate) use people::*;
pub(crate) use work::*;

pub(crate) const APPS: [&str; 16] = [
    "Outlook",
    "Teams",
    "SAP",
    "Salesforce",
    "Workday",
    "Concur",
    "Jira",
    "Confluence",
    "Zoom",
    "Excel",
    "Adobe Acrobat",
    "SharePoint",
    "OneDrive",
    "Citrix Workspace",
    "Power BI",
    "the expense portal",
];

pub(crate) const DEVICES: [&str; 8] = [
    "laptop",
    "desktop",
    "docking station",
    "monitor",
    "printer",
    "phone",
    "headset",
    "keyboard",
];

pub(crate) const WHEN: [&str; 8] = [
    "this morning",
    "yesterday afternoon",
    "after the weekend",
    "after the latest Windows update",
    "since the office move",
    "about an hour ago",
    "since Monday",
    "after my password change",
];

pub(crate) const ERRORS: [&str; 10] = [
    "0x80070005 access denied",
    "The remote server returned an error: (401) Unauthorized",
    "Connection timed out",
    "Something went wrong. Please try again later",
    "Error 500: internal server error",
    "0x800F0922",
    "Certificate validation failed",
    "Unable to contact the license server",
    "The network path was not found",
    "Disk quota exceeded",
];

pub(crate) const HOST_PREFIXES: [&str; 10] = [
    "lnx-app", "lnx-web", "win-sql", "ora-db", "win-fs", "lnx-etl", "win-app", "k8s-node",
    "lnx-mq", "win-rds",
];

pub(crate) const OPERATING_SYSTEMS: [&str; 6] = [
    "Windows 11",
    "Windows Server 2019",
    "Windows Server 2022",
    "RHEL 8",
    "RHEL 9",
    "Ubuntu 22.04",
];

/// Sentences any caller might add to a description.
pub(crate) const CALLER_SENTENCES: [&str; 16] = [
    "The problem started {when}.",
    "{n} colleagues in {dept} have the same problem.",
    "I already restarted my {device} twice but the problem persists.",
    "This is blocking my work on the {month} report.",
    "I am working from the {site} office today.",
    "Please call me back on my mobile, I am in meetings until noon.",
    "It happens every time I open {app}.",
    "I did not change anything on my {device}.",
    "A colleague suggested clearing the cache, which did not help.",
    "I have a customer presentation in two hours, please treat this as urgent.",
    "Screenshot attached.",
    "It worked fine last week.",
    "I can use the web version of {app} in the meantime.",
    "I am not sure if this is related to the maintenance announced for the weekend.",
    "My manager asked me to raise a ticket for this.",
    "I am working remotely this week.",
];

/// Work notes fulfillers leave while working a record.
pub(crate) const WORK_NOTES: [&str; 18] = [
    "Called the user, no answer. Left a voicemail.",
    "Contacted the user on Teams, awaiting response.",
    "Remote session established, reproducing the issue.",
    "Checked the logs on {host}, nothing unusual before the failure.",
    "Escalated to the {group} team for further investigation.",
    "Issue reproduced on a test machine with the same build.",
    "Waiting for the vendor to respond to our support case.",
    "User confirmed the workaround is acceptable for now.",
    "Linked to the related problem record.",
    "Asked the user for a screenshot of the error.",
    "Applied the fix from the knowledge base, monitoring.",
    "Scheduled a visit to the user's desk on floor {floor}.",
    "Similar incidents from {dept} this week, checking for a pattern.",
    "Reassigned: not a {group} issue.",
    "Change to fix this is planned for the next maintenance window.",
    "Followed up with the user, still occurring intermittently.",
    "Verified in monitoring that the service is stable.",
    "Collected diagnostic logs and attached them to the record.",
];

/// ServiceNow's incident close codes, with how often each is used.
pub(crate) const CLOSE_CODES: [(&str, u32); 7] = [
    ("Solved (Permanently)", 45),
    ("Solved Remotely (Permanently)", 25),
    ("Solved (Work Around)", 10),
    ("Solved Remotely (Work Around)", 8),
    ("Closed/Resolved by Caller", 7),
    ("Not Solved (Not Reproducible)", 4),
    ("Not Solved (Too Costly)", 1),
];
