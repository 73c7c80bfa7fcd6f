//! The shape of one demo data set: which tables, how many rows each, and how
//! any record's `sys_id` is found from its table and index.

use super::directory::Directory;
use super::identities::GROUPS;
use super::rng::{self, SysId};

/// The demo's record classes, in `tables.toml` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    SysUser,
    SysUserGroup,
    SysUserGrmember,
    Task,
    Incident,
    Problem,
    ChangeRequest,
    HrCase,
    CmdbCi,
    KbKnowledge,
}

impl Table {
    pub(crate) const ALL: [Table; 10] = [
        Table::SysUser,
        Table::SysUserGroup,
        Table::SysUserGrmember,
        Table::Task,
        Table::Incident,
        Table::Problem,
        Table::ChangeRequest,
        Table::HrCase,
        Table::CmdbCi,
        Table::KbKnowledge,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::SysUser => "sys_user",
            Table::SysUserGroup => "sys_user_group",
            Table::SysUserGrmember => "sys_user_grmember",
            Table::Task => "task",
            Table::Incident => "incident",
            Table::Problem => "problem",
            Table::ChangeRequest => "change_request",
            Table::HrCase => "sn_hr_core_case",
            Table::CmdbCi => "cmdb_ci",
            Table::KbKnowledge => "kb_knowledge",
        }
    }

    pub(crate) fn extends(self) -> Option<&'static str> {
        match self {
            Table::Incident | Table::Problem | Table::ChangeRequest | Table::HrCase => Some("task"),
            _ => None,
        }
    }

    /// Group memberships are kept from the SQL API, to show the flag.
    pub(crate) fn web_service_access(self) -> bool {
        self != Table::SysUserGrmember
    }

    /// The `number` prefix of numbered tables; their files are sorted by it.
    pub(crate) fn number_prefix(self) -> Option<&'static str> {
        match self {
            Table::Task => Some("TASK"),
            Table::Incident => Some("INC"),
            Table::Problem => Some("PRB"),
            Table::ChangeRequest => Some("CHG"),
            Table::HrCase => Some("HRC"),
            Table::KbKnowledge => Some("KB"),
            _ => None,
        }
    }

    /// Rough cost of one row relative to an incident, to schedule the
    /// biggest jobs first.
    pub(crate) fn row_cost(self) -> u64 {
        match self {
            Table::KbKnowledge => 3,
            Table::SysUserGrmember | Table::SysUserGroup => 1,
            _ => 2,
        }
    }

    /// Position in [`Table::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// First number of every numbered table: `INC0001001`.
pub(crate) const FIRST_NUMBER: u64 = 1001;

/// Everything a row generator may consult; shared read-only by the workers.
pub(crate) struct World {
    rows: [u64; 10],
    row_seeds: [u64; 10],
    id_seeds: [u64; 10],
    pub(crate) dir: Directory,
    group_ids: Vec<SysId>,
}

impl World {
    pub(crate) fn new(scale: u64) -> World {
        let n = scale;
        let at_least_10 = |x: u64| x.max(10);
        let users = (n / 50).max(60);
        let id_seeds = Table::ALL.map(|t| rng::seed(&format!("sys_id:{}", t.name())));
        let dir = Directory::build(users, id_seeds[Table::SysUser.index()]);
        let mut rows = [0; 10];
        for t in Table::ALL {
            rows[t.index()] = match t {
                Table::SysUser => users,
                Table::SysUserGroup => GROUPS.len() as u64,
                Table::SysUserGrmember => dir.memberships.len() as u64,
                Table::Task => at_least_10(n / 10),
                Table::Incident => n,
                Table::Problem => at_least_10(n / 20),
                Table::ChangeRequest => at_least_10(n / 10),
                Table::HrCase => at_least_10(n / 50),
                Table::CmdbCi => at_least_10(n / 10),
                Table::KbKnowledge => at_least_10(n / 50),
            };
        }
        World {
            rows,
            row_seeds: Table::ALL.map(|t| rng::seed(t.name())),
            id_seeds,
            dir,
            group_ids: GROUPS.iter().map(|g| SysId::parse(g.sys_id)).collect(),
        }
    }

    pub(crate) fn rows(&self, t: Table) -> u64 {
        self.rows[t.index()]
    }

    /// Seed of the per-record random streams of `t`.
    pub(crate) fn row_seed(&self, t: Table) -> u64 {
        self.row_seeds[t.index()]
    }

    /// The sys_id of record `index` of `t`.
    #[inline]
    pub(crate) fn id(&self, t: Table, index: u64) -> SysId {
        match t {
            Table::SysUser => self.dir.users[index as usize].sys_id,
            Table::SysUserGroup => self.group_ids[index as usize],
            _ => SysId::of(self.id_seeds[t.index()], index),
        }
    }

    #[inline]
    pub(crate) fn user_id(&self, user: u32) -> SysId {
        self.dir.users[user as usize].sys_id
    }

    #[inline]
    pub(crate) fn group_id(&self, group: usize) -> SysId {
        self.group_ids[group]
    }
}
