//! The access-control model of sqlgate, as pure logic: accounts, roles,
//! groups, ACL records, their evaluation, and the condition language compiled
//! to DataFusion expressions. No I/O, no async, no sockets.

pub mod access;
pub mod access_policy;
pub mod condition;
pub mod encoded_query;
pub mod eval;
pub mod gate;
pub mod model;
pub mod policy;
mod policy_file;
pub mod principal;
pub mod script;
pub mod tables;
pub mod validate;

pub use eval::{OperationTrace, Verdict};
pub use gate::TableAccess;
pub use model::{AclName, Decision, Operation};
pub use policy::{Acl, Policy, PolicyError, PolicyErrors};
pub use principal::{ConnectRefusal, Principal};
pub use tables::{TableMeta, Tables};
