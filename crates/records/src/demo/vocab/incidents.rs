//! What incidents are about: topics with their category, the group that
//! usually fixes them, and the sentences callers and fixers write.
//!
//! Text is written as templates; `{placeholders}` are filled by `text`.

/// One kind of incident.
pub(crate) struct Topic {
    pub category: &'static str,
    pub subcategory: &'static str,
    /// Support group that fixes it when the Service Desk cannot.
    pub group: &'static str,
    /// Relative frequency.
    pub weight: u32,
    pub short: &'static [&'static str],
    pub detail: &'static [&'static str],
    pub fix: &'static [&'static str],
}

pub(crate) const TOPICS: &[Topic] = &[
    Topic {
        category: "network",
        subcategory: "vpn",
        group: "Network",
        weight: 9,
        short: &[
            "Unable to connect to VPN from home office",
            "VPN disconnects every few minutes",
            "VPN client shows authentication failed",
            "Very slow VPN connection when working remotely",
        ],
        detail: &[
            "The VPN client gets stuck at \"Connecting...\" and then times out.",
            "Other websites work fine from home, only the corporate VPN fails.",
            "The client shows error \"{error}\".",
        ],
        fix: &[
            "Reinstalled the VPN client and re-imported the connection profile; user connected successfully.",
            "User's certificate had expired. Issued a new machine certificate, VPN works again.",
            "Home router was blocking UDP 4501. Switched the client to SSL fallback.",
        ],
    },
    Topic {
        category: "network",
        subcategory: "wireless",
        group: "Network",
        weight: 6,
        short: &[
            "Wi-Fi keeps dropping on floor {floor}",
            "Cannot join the guest Wi-Fi in the {site} office",
            "No wireless signal in meeting room {floor}.{n}",
        ],
        detail: &[
            "The laptop shows full signal but no internet access.",
            "Colleagues sitting nearby have the same problem.",
            "It happens several times an hour, mostly after lunch.",
        ],
        fix: &[
            "Access point on floor {floor} was rebooted and its firmware updated.",
            "Replaced the faulty access point in the meeting room.",
            "Updated the wireless driver on the laptop; connection stable since.",
        ],
    },
    Topic {
        category: "network",
        subcategory: "dns",
        group: "Network",
        weight: 3,
        short: &[
            "Intranet site does not resolve",
            "Cannot reach {app} by name, IP address works",
        ],
        detail: &[
            "nslookup returns \"server failed\" for the internal domain.",
            "The problem started after the network change this weekend.",
        ],
        fix: &[
            "Stale DNS record removed and zone replicated; name resolves again.",
            "Client was using a public DNS server; restored DHCP-assigned DNS settings.",
        ],
    },
    Topic {
        category: "network",
        subcategory: "ip address",
        group: "Network",
        weight: 3,
        short: &[
            "No network connection after docking laptop",
            "IP address conflict detected on workstation",
        ],
        detail: &[
            "The network icon shows \"unidentified network\".",
            "The docking station was replaced last week.",
        ],
        fix: &[
            "Released and renewed the DHCP lease; duplicate static address removed from the printer.",
            "Updated the docking station firmware; wired connection works.",
        ],
    },
    Topic {
        category: "software",
        subcategory: "email",
        group: "Software",
        weight: 12,
        short: &[
            "Email not syncing on mobile",
            "Outlook keeps asking for password",
            "Shared mailbox not visible in Outlook",
            "Emails stuck in outbox",
            "Cannot send attachments larger than a few MB",
        ],
        detail: &[
            "New messages appear in the web client but not on the phone.",
            "Outlook shows \"{error}\" when it tries to connect.",
            "The mailbox is close to its quota according to the warning banner.",
        ],
        fix: &[
            "Removed and re-added the account on the device; mail syncing again.",
            "Cleared cached credentials in the credential manager and recreated the Outlook profile.",
            "Granted full access permission on the shared mailbox; it appears after restarting Outlook.",
            "Archived old items to bring the mailbox under quota.",
        ],
    },
    Topic {
        category: "software",
        subcategory: "os",
        group: "Hardware",
        weight: 7,
        short: &[
            "Laptop very slow after Windows update",
            "Blue screen on startup",
            "Cannot install updates, error {error}",
            "Laptop stuck on restarting screen",
        ],
        detail: &[
            "Startup takes more than ten minutes and the disk is at 100%.",
            "The stop code on the blue screen is DRIVER_IRQL_NOT_LESS_OR_EQUAL.",
            "The update fails at 35% and rolls back.",
        ],
        fix: &[
            "Rolled back the faulty driver and paused updates until the vendor fix is available.",
            "Ran the system file checker and repaired the update components; update installed.",
            "Re-imaged the laptop with the current corporate build; user data restored from OneDrive.",
        ],
    },
    Topic {
        category: "software",
        subcategory: "internal application",
        group: "Application Development",
        weight: 9,
        short: &[
            "{app} crashes when opening reports",
            "Cannot log in to {app}",
            "{app} shows error {error}",
            "{app} is extremely slow this morning",
            "Request access to {app}",
        ],
        detail: &[
            "The error appears right after selecting the {month} reporting period.",
            "It worked yesterday; nothing was changed on my side.",
            "I need this for the {month} close, which is due on Friday.",
        ],
        fix: &[
            "Missing role added to the user's profile in {app}; access confirmed.",
            "Application server {host} restarted after a memory leak; performance back to normal.",
            "Known defect fixed in release {ver}; deployed to production.",
        ],
    },
    Topic {
        category: "software",
        subcategory: "collaboration",
        group: "Software",
        weight: 6,
        short: &[
            "Teams calls drop after a few minutes",
            "No audio in Zoom meetings",
            "Screen sharing shows a black screen",
        ],
        detail: &[
            "The headset works in other applications.",
            "It happens both in the office and at home.",
        ],
        fix: &[
            "Updated the client to version {ver} and reset the audio device settings.",
            "Disabled hardware acceleration in the client; screen sharing works.",
        ],
    },
    Topic {
        category: "inquiry",
        subcategory: "password reset",
        group: "Service Desk",
        weight: 14,
        short: &[
            "Password reset request",
            "Account locked out after password change",
            "Forgot password for {app}",
            "MFA prompt not arriving on new phone",
        ],
        detail: &[
            "I changed my password yesterday and now my account is locked.",
            "I got a new phone and the authenticator app was not transferred.",
        ],
        fix: &[
            "Verified the caller's identity and reset the password; user logged in successfully.",
            "Unlocked the account; an old session on the phone was using the previous password.",
            "Re-registered MFA on the new device after identity verification.",
        ],
    },
    Topic {
        category: "inquiry",
        subcategory: "how to",
        group: "Service Desk",
        weight: 6,
        short: &[
            "How do I set up an out-of-office reply",
            "How to add a delegate to my calendar",
            "How to connect to the printer in the {site} office",
            "Where can I find the expense policy in {app}",
        ],
        detail: &["I could not find the answer on the intranet."],
        fix: &[
            "Walked the user through the steps and sent the knowledge article link.",
            "Answered by phone; user confirmed it works.",
        ],
    },
    Topic {
        category: "inquiry",
        subcategory: "antivirus",
        group: "Security Operations",
        weight: 3,
        short: &[
            "Antivirus reports a threat in downloaded file",
            "Antivirus scan slowing down laptop",
        ],
        detail: &[
            "The file came from a supplier portal.",
            "The popup says the file was quarantined.",
        ],
        fix: &[
            "File confirmed malicious and deleted; full scan clean.",
            "Scheduled scan moved to lunchtime; exclusion added for the build folder after review.",
        ],
    },
    Topic {
        category: "security",
        subcategory: "phishing",
        group: "Security Operations",
        weight: 4,
        short: &[
            "Suspicious email asking for my credentials",
            "Clicked a link in a possible phishing email",
            "Received invoice email from unknown sender",
        ],
        detail: &[
            "The email pretended to come from the {app} team.",
            "I entered my user name but not my password before I noticed.",
        ],
        fix: &[
            "Message purged from all mailboxes and sender domain blocked.",
            "Password reset and sessions revoked as a precaution; no suspicious sign-ins found.",
        ],
    },
    Topic {
        category: "hardware",
        subcategory: "monitor",
        group: "Hardware",
        weight: 4,
        short: &["External monitor not detected", "Second screen flickering"],
        detail: &[
            "I tried another cable, same result.",
            "It started after moving desks.",
        ],
        fix: &[
            "Replaced the DisplayPort cable.",
            "Monitor was faulty; replaced from stock in the {site} office.",
        ],
    },
    Topic {
        category: "hardware",
        subcategory: "keyboard",
        group: "Hardware",
        weight: 3,
        short: &["Keyboard keys not working", "Wireless mouse not responding"],
        detail: &[
            "Some keys do nothing, others type twice.",
            "New batteries did not help.",
        ],
        fix: &[
            "Replaced keyboard and mouse set.",
            "Re-paired the receiver; device works.",
        ],
    },
    Topic {
        category: "hardware",
        subcategory: "disk",
        group: "Hardware",
        weight: 3,
        short: &[
            "Laptop disk almost full",
            "Hard drive making clicking noise",
        ],
        detail: &[
            "Only 2 GB free left.",
            "The laptop is about four years old.",
        ],
        fix: &[
            "Cleared temporary files and moved large folders to OneDrive; 60 GB free.",
            "Disk replaced under warranty, data restored.",
        ],
    },
    Topic {
        category: "hardware",
        subcategory: "cpu",
        group: "Hardware",
        weight: 3,
        short: &[
            "Laptop overheating and fan very loud",
            "Computer freezes when running {app}",
        ],
        detail: &[
            "The bottom of the laptop gets too hot to touch.",
            "Task manager shows CPU at 100%.",
        ],
        fix: &[
            "Cleaned the fan and updated the BIOS.",
            "Laptop replaced with a current model.",
        ],
    },
    Topic {
        category: "hardware",
        subcategory: "printer",
        group: "Hardware",
        weight: 5,
        short: &[
            "Printer on floor {floor} not printing",
            "Printer jams on every page",
            "Cannot add printer in the {site} office",
        ],
        detail: &[
            "Print jobs stay in the queue with status \"error\".",
            "The display shows paper jam in tray 2.",
        ],
        fix: &[
            "Cleared the print queue and restarted the spooler on the print server.",
            "Vendor engineer replaced the fuser unit.",
            "Installed the printer from the self-service portal.",
        ],
    },
    Topic {
        category: "hardware",
        subcategory: "mobile",
        group: "Hardware",
        weight: 3,
        short: &[
            "Company phone not receiving emails",
            "Need replacement for cracked phone screen",
        ],
        detail: &[
            "The phone is enrolled in device management.",
            "The phone fell yesterday.",
        ],
        fix: &[
            "Re-enrolled the device; mail profile pushed again.",
            "Replacement phone shipped.",
        ],
    },
    Topic {
        category: "database",
        subcategory: "oracle",
        group: "Database",
        weight: 2,
        short: &[
            "Oracle database on {host} running out of tablespace",
            "ORA-12541: TNS no listener when connecting to {host}",
        ],
        detail: &[
            "The nightly load failed at 02:15.",
            "Monitoring raised a critical alert.",
        ],
        fix: &[
            "Added a datafile to the tablespace and enabled autoextend.",
            "Listener restarted and added to the service monitor.",
        ],
    },
    Topic {
        category: "database",
        subcategory: "sql server",
        group: "Database",
        weight: 3,
        short: &[
            "SQL Server job failed overnight on {host}",
            "Report queries timing out on {host}",
            "Database connection pool exhausted for {app}",
        ],
        detail: &[
            "The job history shows a deadlock victim error.",
            "Dashboards in {app} show no data since this morning.",
        ],
        fix: &[
            "Rebuilt fragmented indexes and updated statistics; job completed.",
            "Killed a blocking session and raised the pool limit for {app}.",
        ],
    },
    Topic {
        category: "database",
        subcategory: "db2",
        group: "Database",
        weight: 1,
        short: &[
            "DB2 batch job abended",
            "DB2 backup did not complete on {host}",
        ],
        detail: &["Return code 12 in the job log."],
        fix: &["Restarted the job from the last checkpoint after freeing log space."],
    },
    Topic {
        category: "software",
        subcategory: "cloud",
        group: "Cloud Operations",
        weight: 4,
        short: &[
            "Server {host} not responding",
            "File share on {host} is read-only",
            "Backup job failed for {host}",
        ],
        detail: &[
            "Monitoring shows the host down since {when}.",
            "Users in {dept} cannot save files to the team share.",
        ],
        fix: &[
            "Host restarted after a hung storage driver; monitoring green.",
            "Volume was full; expanded the disk by 200 GB.",
            "Backup agent credentials renewed; job completed successfully.",
        ],
    },
];
