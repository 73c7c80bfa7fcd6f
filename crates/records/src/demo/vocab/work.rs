//! Vocabulary of the other record classes: tasks, problems, changes, HR
//! cases, configuration items and knowledge articles.

/// Plain tasks: (short description, support group).
pub(crate) const TASKS: [(&str, &str); 16] = [
    ("Set up workstation for new hire in {dept}", "Hardware"),
    ("Order replacement {device}", "Procurement"),
    (
        "Move desk to floor {floor} in the {site} office",
        "Facilities",
    ),
    ("Renew SSL certificate for {host}", "Cloud Operations"),
    ("Install {app} for the {dept} team", "Software"),
    ("Collect equipment from leaver", "Hardware"),
    ("Create distribution list for {dept}", "Service Desk"),
    ("Review firewall rule request for {host}", "Network"),
    ("Update access badge for {site} office", "Facilities"),
    ("Quarterly access review for {app}", "Security Operations"),
    ("Decommission server {host}", "Cloud Operations"),
    ("Restore deleted folder on {host}", "Cloud Operations"),
    ("Provision database schema for {app}", "Database"),
    ("Replace toner in printers on floor {floor}", "Facilities"),
    ("Renew {app} licenses for {dept}", "Procurement"),
    (
        "Prepare meeting room equipment for town hall",
        "Service Desk",
    ),
];

pub(crate) const TASK_SENTENCES: [&str; 8] = [
    "Requested by the {dept} manager.",
    "Needed before {month} 1st.",
    "Coordinate with the {site} office team.",
    "Details are in the linked request.",
    "Please update this task when done so the request can be closed.",
    "Cost center approval is attached.",
    "Same setup as the last request for {dept}.",
    "Low urgency, can be scheduled next week.",
];

/// Problems: (short description, support group, root cause, fix).
pub(crate) const PROBLEMS: [(&str, &str, &str, &str); 14] = [
    (
        "Recurring VPN disconnects for remote users",
        "Network",
        "The VPN concentrator's session table fills up during peak hours.",
        "Increased the session table size and added an alert at 80% usage.",
    ),
    (
        "Outlook credential prompts after password change",
        "Software",
        "Mobile devices keep retrying with the old password and lock the account.",
        "Published a knowledge article and added a self-service unlock.",
    ),
    (
        "Intermittent slowness of {app}",
        "Application Development",
        "An application server memory leak introduced in release {ver}.",
        "Patched release deployed; memory stable over two weeks.",
    ),
    (
        "Nightly ETL job on {host} fails about once a week",
        "Database",
        "Missing index on a table that grew tenfold after the last migration.",
        "Index added and statistics job scheduled nightly.",
    ),
    (
        "Wi-Fi drops on floor {floor} at peak times",
        "Network",
        "A firmware defect in the access points drops clients under load.",
        "Vendor firmware {ver} deployed to all access points.",
    ),
    (
        "Blue screens on one laptop model after driver update",
        "Hardware",
        "A driver shipped with the monthly update is incompatible with the docking stations.",
        "Driver rolled back through device management and blocked from updates.",
    ),
    (
        "Print queue stalls on the {site} print server",
        "Hardware",
        "The print server runs out of spooler handles after about a week.",
        "Spooler patched and a weekly restart scheduled until the vendor fix.",
    ),
    (
        "Database connection pool exhaustion for {app}",
        "Database",
        "The connection pool is sized for half the current number of users.",
        "Pool resized and connection leak in the reporting module fixed.",
    ),
    (
        "Memory leak in {app} application servers",
        "Application Development",
        "Session objects are never released after a timeout.",
        "Fixed in release {ver}; servers no longer need nightly restarts.",
    ),
    (
        "Repeated account lockouts after password changes",
        "Service Desk",
        "Old sessions on phones and tablets keep using the previous password.",
        "Lockout notifications now tell users which device failed.",
    ),
    (
        "Backups of {host} exceed the maintenance window",
        "Cloud Operations",
        "The storage array's snapshot schedule overlaps with the backup window.",
        "Moved the snapshot schedule and shortened retention.",
    ),
    (
        "Phishing campaign targeting {dept}",
        "Security Operations",
        "The mail filter did not check the sender domain's DMARC policy.",
        "Mail filter rule updated to quarantine failing messages.",
    ),
    (
        "Certificate expiry outages on internal sites",
        "Cloud Operations",
        "Certificates were renewed manually and nobody tracked the expiry dates.",
        "Certificates moved to automated renewal with expiry reporting.",
    ),
    (
        "File share on {host} running out of space monthly",
        "Cloud Operations",
        "Log files are never rotated on {host}.",
        "Log rotation configured and cleanup job added to the build.",
    ),
];

pub(crate) const PROBLEM_SENTENCES: [&str; 8] = [
    "Several incidents from {dept} and the {site} office point to the same underlying fault.",
    "{n} incidents were linked to this problem in the last month.",
    "The workaround is documented in the knowledge base.",
    "Monitoring shows the issue recurring every few days.",
    "Vendor support has been engaged.",
    "Impact is highest at the start of the business day.",
    "A temporary workaround keeps the service running.",
    "Review with the service owner planned for next week.",
];

/// Changes: (short description, implementing group, usual type).
pub(crate) const CHANGES: [(&str, &str, &str); 14] = [
    (
        "Upgrade {app} to version {ver}",
        "Application Development",
        "normal",
    ),
    (
        "Apply {month} security patches to {os} servers",
        "Cloud Operations",
        "standard",
    ),
    (
        "Replace core switch in the {site} data center",
        "Network",
        "normal",
    ),
    ("Add firewall rule for {host}", "Network", "standard"),
    (
        "Increase disk space on {host}",
        "Cloud Operations",
        "standard",
    ),
    (
        "Migrate database of {app} to a new cluster",
        "Database",
        "normal",
    ),
    (
        "Emergency fix for {app} login failures",
        "Application Development",
        "emergency",
    ),
    (
        "Restart cluster after failed patch on {host}",
        "Cloud Operations",
        "emergency",
    ),
    (
        "Renew certificates on the load balancers",
        "Network",
        "standard",
    ),
    (
        "Roll out {app} client {ver} to all laptops",
        "Software",
        "normal",
    ),
    (
        "Update Wi-Fi access point firmware on floor {floor}",
        "Network",
        "normal",
    ),
    (
        "Decommission legacy file server {host}",
        "Cloud Operations",
        "normal",
    ),
    (
        "Rotate database service account passwords",
        "Database",
        "standard",
    ),
    (
        "Block malicious domains at the proxy",
        "Security Operations",
        "emergency",
    ),
];

pub(crate) const CHANGE_SENTENCES: [&str; 10] = [
    "Implementation plan: take a backup, apply the change on the passive node first, fail over, then update the second node.",
    "Backout plan: restore from the backup taken before the change and revert the configuration.",
    "Test plan: smoke test of logins and the main reports by the application owner.",
    "Expected user impact: about {n} minutes of unavailability during the window.",
    "The change was rehearsed in the test environment last week.",
    "Communication to the {dept} department is prepared.",
    "Vendor support is on standby during the window.",
    "Monitoring will be put in maintenance mode for the affected hosts.",
    "This change resolves the linked problem record.",
    "No impact expected; the service is redundant.",
];

/// HR services: (name, group, short descriptions).
pub(crate) const HR_SERVICES: [(&str, &str, &[&str]); 10] = [
    (
        "Benefits Inquiry",
        "HR Tier 1",
        &[
            "Question about dental coverage",
            "How do I add my partner to my health plan",
        ],
    ),
    (
        "Payroll Inquiry",
        "Payroll",
        &[
            "Overtime missing from my {month} payslip",
            "Incorrect tax code on payslip",
        ],
    ),
    (
        "Salary Change",
        "Payroll",
        &[
            "Salary adjustment after promotion",
            "Annual merit increase not applied",
        ],
    ),
    (
        "Leave of Absence",
        "HR Tier 2",
        &[
            "Request parental leave",
            "Extended sick leave documentation",
        ],
    ),
    (
        "Onboarding",
        "HR Tier 1",
        &["New hire starting in {dept} on {month} 1st"],
    ),
    (
        "Offboarding",
        "HR Tier 1",
        &["Employee leaving {dept} at the end of {month}"],
    ),
    (
        "Employment Verification",
        "HR Tier 1",
        &["Employment verification letter for mortgage application"],
    ),
    (
        "Relocation",
        "HR Tier 2",
        &["Relocation support for move to the {site} office"],
    ),
    (
        "Tuition Reimbursement",
        "HR Tier 2",
        &["Reimbursement for certification course"],
    ),
    (
        "Employee Relations",
        "HR Tier 2",
        &["Confidential concern about team conduct"],
    ),
];

pub(crate) const HR_SENTENCES: [&str; 8] = [
    "The employee contacted the HR service center by phone.",
    "Supporting documents are attached to the case.",
    "Manager approval was received by email.",
    "Please treat this case as confidential.",
    "The employee works from the {site} office.",
    "Payroll cut-off for {month} is on the 20th.",
    "The employee asked to be contacted by email only.",
    "Related to the policy update announced in {month}.",
];

/// Symptoms knowledge articles describe.
pub(crate) const KB_SYMPTOMS: [&str; 10] = [
    "You cannot sign in to {app}.",
    "{app} shows the error \"{error}\".",
    "Your {device} does not respond or restarts unexpectedly.",
    "Pages load slowly or time out, mostly in the morning.",
    "You are asked for your password again and again.",
    "Colleagues in the same office see the same behaviour.",
    "The problem started {when}.",
    "The web version works, the desktop application does not.",
    "A message says your mailbox or disk is almost full.",
    "Nothing happens when you select the option.",
];

/// Closing paragraphs of knowledge articles.
pub(crate) const KB_NOTES: [&str; 6] = [
    "This article was reviewed by the {group} team in {month}.",
    "Screenshots may differ slightly depending on your version of {app}.",
    "Colleagues in the {site} office: local instructions apply for printers and badges.",
    "This procedure replaces the one published last year.",
    "The steps apply to {os} and later.",
    "Allow up to {n} minutes for changes to take effect.",
];

/// Work notes of HR specialists.
pub(crate) const HR_NOTES: [&str; 8] = [
    "Called the employee to confirm the details.",
    "Requested the missing documents from the employee.",
    "Checked the request against the {site} policy.",
    "Waiting for the manager's approval.",
    "Forwarded to {group} for review.",
    "Payroll change entered for the next run.",
    "Employee confirmed by email that the case can be closed.",
    "Updated the employee record in Workday.",
];

/// Configuration item kinds: (name prefix, manufacturers, models).
pub(crate) const CI_KINDS: [(&str, &[&str], &[&str]); 8] = [
    (
        "lnx-app",
        &["Dell", "HPE"],
        &["PowerEdge R650", "ProLiant DL380 Gen10"],
    ),
    (
        "win-sql",
        &["Dell", "HPE", "Lenovo"],
        &[
            "PowerEdge R750",
            "ProLiant DL360 Gen11",
            "ThinkSystem SR650",
        ],
    ),
    (
        "k8s-node",
        &["Dell", "Supermicro"],
        &["PowerEdge R6525", "SYS-1029U"],
    ),
    (
        "sw-core",
        &["Cisco", "Juniper", "Arista"],
        &["Catalyst 9500", "EX4650", "7050X3"],
    ),
    ("ap", &["Cisco", "Aruba"], &["Catalyst 9120AX", "AP-515"]),
    (
        "LT",
        &["Lenovo", "Dell", "Apple", "HP"],
        &[
            "ThinkPad T14",
            "Latitude 7440",
            "MacBook Pro 14",
            "EliteBook 840",
        ],
    ),
    (
        "PRN",
        &["HP", "Canon", "Xerox"],
        &["LaserJet M607", "imageRUNNER C3226", "VersaLink C7000"],
    ),
    (
        "stor",
        &["NetApp", "Pure Storage"],
        &["AFF A400", "FlashArray//X70"],
    ),
];

/// Knowledge article titles; `{app}` and friends are filled per article.
pub(crate) const KB_TITLES: [(&str, &str); 16] = [
    ("How to reset your password", "Accounts"),
    ("How to connect to the VPN from home", "Network"),
    ("Setting up email on your mobile device", "Email"),
    ("How to request access to {app}", "Accounts"),
    ("Troubleshooting slow Wi-Fi in the office", "Network"),
    ("Adding a printer in the {site} office", "Hardware"),
    ("Recognising phishing emails", "Security"),
    ("Out-of-office replies in Outlook", "Email"),
    (
        "What to do when your laptop shows a blue screen",
        "Hardware",
    ),
    ("Sharing your screen in Teams and Zoom", "Collaboration"),
    ("Freeing up disk space on your laptop", "Hardware"),
    (
        "Registering a new phone for multi-factor authentication",
        "Accounts",
    ),
    ("Known issue: {app} reports time out", "Applications"),
    ("Requesting a leave of absence", "HR"),
    ("Understanding your payslip", "HR"),
    ("Booking a desk in the {site} office", "Facilities"),
];

pub(crate) const KB_STEPS: [&str; 16] = [
    "Open the self-service portal and sign in with your corporate account.",
    "Select the item in the catalog and fill in the short form.",
    "Restart your device and try again before contacting the Service Desk.",
    "Make sure your laptop is connected to the internet and the VPN is off.",
    "Open {app} and go to Settings, then Account.",
    "Confirm the change with the code sent to your authenticator app.",
    "Wait up to fifteen minutes for the change to replicate.",
    "If the problem persists, raise an incident and mention this article.",
    "Check the status page for ongoing outages first.",
    "Close all Office applications before you start.",
    "Choose the printer nearest to your desk; its name is on the label.",
    "Your manager receives an approval request by email.",
    "Do not share the code with anyone, including the Service Desk.",
    "Save your work, as the device restarts at the end.",
    "Take a screenshot of any error message you see.",
    "The change applies to all devices signed in with your account.",
];
