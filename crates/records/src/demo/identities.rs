//! The fixed identities of the demo: the group tree and the service accounts.
//!
//! Their sys_ids are literals, not derived from the generator's hash, so the
//! demo policy can name them and keep working if the generator changes. The
//! generated `sys_user`, `sys_user_group` and `sys_user_grmember` tables
//! contain exactly these groups, these accounts and these memberships.

/// One group of the fixed demo tree (`sys_user_group`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoGroup {
    pub name: &'static str,
    pub sys_id: &'static str,
    /// The parent group's name.
    pub parent: Option<&'static str>,
    pub description: &'static str,
    pub active: bool,
}

/// One fixed account of `sys_user`: the service accounts the demo policy
/// grants (or refuses) SQL access, and an interactive user for contrast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoUser {
    pub user_name: &'static str,
    pub sys_id: &'static str,
    /// Names of the groups it is a member of (see [`demo_groups`]).
    pub groups: &'static [&'static str],
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub active: bool,
    pub locked_out: bool,
    pub web_service_access_only: bool,
    /// What the demo uses the account for.
    pub purpose: &'static str,
}

const fn group(
    name: &'static str,
    sys_id: &'static str,
    parent: Option<&'static str>,
    description: &'static str,
) -> DemoGroup {
    DemoGroup {
        name,
        sys_id,
        parent,
        description,
        active: true,
    }
}

pub(crate) const GROUPS: [DemoGroup; 20] = [
    group(
        "IT",
        "df1773ad8a72b3255d0d675e23c2001c",
        None,
        "All IT support and operations teams",
    ),
    group(
        "Service Desk",
        "d625dccec0a8016700a222a0f7900d06",
        Some("IT"),
        "First line support: triage, password resets, how-to questions",
    ),
    group(
        "Network",
        "c211053da78b4e11048b970156a3be46",
        Some("IT"),
        "LAN, WAN, Wi-Fi, VPN and DNS",
    ),
    group(
        "Database",
        "e18a5a6a2b082351dfaa220eae004bfe",
        Some("IT"),
        "Database administration for Oracle, SQL Server and PostgreSQL",
    ),
    group(
        "Hardware",
        "e0bde1f27e1133361413855574e6cc98",
        Some("IT"),
        "Laptops, desktops, printers and peripherals",
    ),
    group(
        "Software",
        "a7b3aa28686d5ddf47976ddacb5f9357",
        Some("IT"),
        "Packaging, licensing and support of desktop applications",
    ),
    group(
        "Application Development",
        "55b62253bcf24d75c9c755d991369034",
        Some("IT"),
        "In-house business applications",
    ),
    group(
        "Cloud Operations",
        "33cb7f329fe95f45993bbed501de8453",
        Some("IT"),
        "Cloud platforms, servers, storage and backups",
    ),
    group(
        "Problem Management",
        "4db05a126c1694b283b3e93628c8ffd1",
        Some("IT"),
        "Root cause analysis of recurring incidents",
    ),
    DemoGroup {
        active: false,
        ..group(
            "Legacy Mainframe",
            "c1b09c04c7b3a9e81f8ffaeb9ad01c5d",
            Some("IT"),
            "Decommissioned mainframe support team",
        )
    },
    group(
        "HR",
        "ff1365ac9dca4eb472e21a0cc438c5f2",
        None,
        "Human Resources",
    ),
    group(
        "HR Tier 1",
        "1d3b67a4ff343b865e3af39f838d3241",
        Some("HR"),
        "HR service center: first contact for employee questions",
    ),
    group(
        "HR Tier 2",
        "71aefcdb24b0dbc4060b5deb798820c7",
        Some("HR"),
        "HR specialists: leave, relations, benefits",
    ),
    group(
        "Payroll",
        "c2c79ad2b4db7f76ceca3b1559cd4702",
        Some("HR"),
        "Payroll and compensation",
    ),
    group(
        "Change Advisory Board",
        "894de52b446ca66747169a645ea0ca6b",
        None,
        "Reviews and authorizes normal and emergency changes",
    ),
    group(
        "Security Operations",
        "c287d89bbb5e1e07ca946839c9fab13f",
        None,
        "Security monitoring, incident response and vulnerability management",
    ),
    group(
        "Facilities",
        "e644aaccc19f278d4730f3d2c8ec9ef0",
        None,
        "Buildings, desks, badges and moves",
    ),
    group(
        "Finance",
        "fcbdd05ac874c65fe14dd43798516248",
        None,
        "Accounting and controlling",
    ),
    group(
        "Procurement",
        "55ee11941e4112bca7b89c495fe545cf",
        Some("Finance"),
        "Purchasing of hardware, software and services",
    ),
    group(
        "Knowledge Managers",
        "3703fc2c4bb1dc4dcb7592940a1d8630",
        None,
        "Review and publish knowledge articles",
    ),
];

pub(crate) const SERVICE_ACCOUNTS: [DemoUser; 7] = [
    DemoUser {
        user_name: "svc_powerbi",
        sys_id: "5137153cc611227c000bbd1bd8cd2005",
        groups: &["Service Desk"],
        first_name: "Power BI",
        last_name: "Service",
        active: true,
        locked_out: false,
        web_service_access_only: true,
        purpose: "reporting on incidents",
    },
    DemoUser {
        user_name: "svc_tableau",
        sys_id: "d97125af8e281d59a13ee93fcf8405dc",
        groups: &["Network", "Database"],
        first_name: "Tableau",
        last_name: "Service",
        active: true,
        locked_out: false,
        web_service_access_only: true,
        purpose: "reporting on infrastructure work",
    },
    DemoUser {
        user_name: "svc_desk",
        sys_id: "c1302bf82c61f54a42d7ecda1dcd1a88",
        groups: &["Service Desk", "Hardware"],
        first_name: "Service Desk",
        last_name: "Integration",
        active: true,
        locked_out: false,
        web_service_access_only: true,
        purpose: "sees only its groups' and its own records",
    },
    DemoUser {
        user_name: "svc_hr",
        sys_id: "3cfa00e175478639d82757a0ade57da3",
        groups: &["HR Tier 1", "Payroll"],
        first_name: "HR",
        last_name: "Analytics",
        active: true,
        locked_out: false,
        web_service_access_only: true,
        purpose: "reads HR cases, including salaries",
    },
    DemoUser {
        user_name: "svc_noegress",
        sys_id: "faaf792798e6339a970be8a0eb882ab3",
        groups: &["Service Desk"],
        first_name: "No Egress",
        last_name: "Service",
        active: true,
        locked_out: false,
        web_service_access_only: true,
        purpose: "may read but holds no SQL egress grant",
    },
    DemoUser {
        user_name: "jane.interactive",
        sys_id: "d5d0ddc3002d066e856f21c73cfd9c87",
        groups: &["Service Desk"],
        first_name: "Jane",
        last_name: "Interactive",
        active: true,
        locked_out: false,
        web_service_access_only: false,
        purpose: "an interactive user, refused by the SQL API",
    },
    DemoUser {
        user_name: "svc_locked",
        sys_id: "674715cd1dafc4476ef1acf851c678bb",
        groups: &["Service Desk"],
        first_name: "Locked",
        last_name: "Service",
        active: true,
        locked_out: true,
        web_service_access_only: true,
        purpose: "a locked-out account, refused at login",
    },
];

/// The fixed group tree of `sys_user_group`, parents before children.
pub fn demo_groups() -> Vec<DemoGroup> {
    GROUPS.to_vec()
}

/// The fixed accounts of `sys_user` (the first rows of that table).
pub fn demo_service_accounts() -> Vec<DemoUser> {
    SERVICE_ACCOUNTS.to_vec()
}

/// Index in [`GROUPS`] of the group called `name`.
pub(crate) fn group_index(name: &str) -> usize {
    GROUPS
        .iter()
        .position(|g| g.name == name)
        .unwrap_or_else(|| panic!("no demo group {name:?}"))
}

/// Index in [`SERVICE_ACCOUNTS`] (and so in `sys_user`) of `user_name`.
pub(crate) fn account_index(user_name: &str) -> usize {
    SERVICE_ACCOUNTS
        .iter()
        .position(|u| u.user_name == user_name)
        .unwrap_or_else(|| panic!("no demo account {user_name:?}"))
}
