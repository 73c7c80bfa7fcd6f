//! The access-control model of sqlgate, as pure logic: accounts, roles,
//! groups, ACL records, their evaluation, and the condition language compiled
//! to DataFusion expressions. No I/O, no async, no sockets.

pub mod condition;
pub mod encoded_query;
pub mod script;
