//! The people: every `sys_user` row's identity and group memberships,
//! computed once before any file is written (max(60, N/50) users, a few
//! megabytes at the largest scales) so that assignments can pick a member of
//! the assignment group and `sys_user_grmember` agrees with them.
//!
//! The fixed service accounts come first, then generated people whose user
//! names are unique by construction.

use super::identities::{GROUPS, SERVICE_ACCOUNTS, account_index, group_index};
use super::rng::{self, Rng, SysId};
use super::vocab;

/// One `sys_user` row's identity.
pub(crate) struct User {
    pub sys_id: SysId,
    pub user_name: Box<str>,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub department: &'static str,
    pub title: &'static str,
    pub manager: Option<u32>,
    /// Index into [`SERVICE_ACCOUNTS`] for the fixed accounts.
    pub account: Option<usize>,
}

pub(crate) struct Directory {
    pub users: Vec<User>,
    /// (user, group) pairs in `sys_user_grmember` order.
    pub memberships: Vec<(u32, u8)>,
    /// Generated people (not the fixed accounts) per group.
    people_in: Vec<Vec<u32>>,
    /// How many users head the organisation (managers of everyone else).
    managers: u32,
}

/// How many of each group's members there are, relatively.
const GROUP_WEIGHTS: [u32; 20] = [2, 14, 6, 4, 8, 6, 8, 6, 2, 1, 2, 6, 4, 3, 3, 4, 5, 5, 3, 2];

const FIRST_PERSON: u32 = SERVICE_ACCOUNTS.len() as u32;

impl Directory {
    pub(crate) fn build(users: u64, id_seed: u64) -> Directory {
        let users = users.max(u64::from(FIRST_PERSON) + 1) as u32;
        let people = users - FIRST_PERSON;
        let managers = (people / 12).max(3).min(people);
        let seed = rng::seed("sys_user");
        let weights: Vec<(usize, u32)> = GROUP_WEIGHTS.iter().copied().enumerate().collect();

        let mut dir = Directory {
            users: Vec::with_capacity(users as usize),
            memberships: Vec::with_capacity(users as usize * 2),
            people_in: vec![Vec::new(); GROUPS.len()],
            managers,
        };
        for (i, a) in SERVICE_ACCOUNTS.iter().enumerate() {
            dir.users.push(User {
                sys_id: SysId::parse(a.sys_id),
                user_name: a.user_name.into(),
                first_name: a.first_name,
                last_name: a.last_name,
                department: if a
                    .groups
                    .iter()
                    .any(|g| g.starts_with("HR") || *g == "Payroll")
                {
                    "Human Resources"
                } else {
                    "IT"
                },
                title: if a.web_service_access_only {
                    "Integration account"
                } else {
                    "Service Desk Analyst"
                },
                manager: None,
                account: Some(i),
            });
            for g in a.groups {
                dir.memberships.push((i as u32, group_index(g) as u8));
            }
        }
        for u in FIRST_PERSON..users {
            let mut r = Rng::for_record(seed, u64::from(u));
            let mut groups = [usize::MAX; 3];
            let count = r.weighted(&[(1usize, 50), (2, 35), (3, 15)]);
            for k in 0..count {
                let mut g = r.weighted(&weights);
                while groups.contains(&g) {
                    g = (g + 1) % GROUPS.len();
                }
                groups[k] = g;
                dir.memberships.push((u, g as u8));
                dir.people_in[g].push(u);
            }
            let department = if r.chance(0.6) {
                group_department(groups[0])
            } else {
                r.pick(&vocab::DEPARTMENTS)
            };
            let title = match department {
                "IT" => r.pick(&vocab::IT_TITLES),
                "Human Resources" => r.pick(&vocab::HR_TITLES),
                _ => r.pick(&vocab::BUSINESS_TITLES),
            };
            let (first_name, last_name, user_name) = person_name(u - FIRST_PERSON);
            let manager = match u - FIRST_PERSON {
                0 => None,
                p if p < managers => Some(FIRST_PERSON),
                _ => Some(FIRST_PERSON + r.below(u64::from(managers)) as u32),
            };
            dir.users.push(User {
                sys_id: SysId::of(id_seed, u64::from(u)),
                user_name,
                first_name,
                last_name,
                department,
                title,
                manager,
                account: None,
            });
        }
        dir
    }

    /// The fixed account `user_name`'s row.
    pub(crate) fn account(user_name: &str) -> u32 {
        account_index(user_name) as u32
    }

    /// A generated person, uniformly.
    pub(crate) fn person(&self, r: &mut Rng) -> u32 {
        FIRST_PERSON + r.below(u64::from(self.users.len() as u32 - FIRST_PERSON)) as u32
    }

    /// One of the people at the top, who manage groups and approve things.
    pub(crate) fn manager(&self, r: &mut Rng) -> u32 {
        FIRST_PERSON + r.below(u64::from(self.managers)) as u32
    }

    /// A generated member of `group`, or anyone if it has none.
    pub(crate) fn member(&self, r: &mut Rng, group: usize) -> u32 {
        let m = &self.people_in[group];
        if m.is_empty() {
            self.person(r)
        } else {
            m[r.below(m.len() as u64) as usize]
        }
    }

    /// The first generated member of `group`: its manager.
    pub(crate) fn group_manager(&self, group: usize) -> u32 {
        self.people_in[group]
            .first()
            .copied()
            .unwrap_or(FIRST_PERSON)
    }

    pub(crate) fn user_name(&self, user: u32) -> &str {
        &self.users[user as usize].user_name
    }
}

/// The department a support group belongs to.
fn group_department(group: usize) -> &'static str {
    match GROUPS[group].name {
        "HR" | "HR Tier 1" | "HR Tier 2" | "Payroll" => "Human Resources",
        "Finance" => "Finance",
        "Procurement" => "Procurement",
        "Facilities" => "Facilities",
        _ => "IT",
    }
}

/// The `p`-th generated person's first name, last name and unique user name.
/// `(p mod F, (p / F + 37 p) mod L)` visits every name pair once per `F*L`
/// people; later rounds get a numeric suffix.
fn person_name(p: u32) -> (&'static str, &'static str, Box<str>) {
    let f = vocab::FIRST_NAMES.len() as u32;
    let l = vocab::LAST_NAMES.len() as u32;
    let first = vocab::FIRST_NAMES[(p % f) as usize];
    let last = vocab::LAST_NAMES[((p / f + 37 * (p % f)) % l) as usize];
    let round = p / (f * l);
    let mut name = format!("{first}.{last}").to_lowercase();
    if round > 0 {
        name.push_str(&(round + 1).to_string());
    }
    (first, last, name.into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_unique() {
        let d = Directory::build(25_000, 1);
        let mut names = std::collections::HashSet::new();
        for u in &d.users {
            assert!(names.insert(u.user_name.clone()), "{}", u.user_name);
        }
        assert_eq!(d.users.len(), 25_000);
        assert_eq!(d.user_name(Directory::account("svc_desk")), "svc_desk");
    }

    #[test]
    fn every_person_is_in_one_to_three_groups() {
        let d = Directory::build(500, 1);
        let mut per_user = vec![0; d.users.len()];
        for &(u, _) in &d.memberships {
            per_user[u as usize] += 1;
        }
        assert!(per_user.iter().all(|&c| (1..=3).contains(&c)));
    }
}
