// Drives sqlgate through pgjdbc (the driver DBeaver, Metabase and Tableau
// load) and prints what it sees, one "key<TAB>value" line per fact, for the
// Rust test to check. A failing step prints "error<TAB>step<TAB>sqlstate<TAB>
// message" and the program goes on with the next step, so one run reports
// every failure.
//
// Usage: java -cp <pgjdbc.jar>:<classes> JdbcClient PORT CERT USER PASSWORD
//            PRIV_USER PRIV_PASSWORD NUMBER OPENED_BEFORE
//   NUMBER        an incident number to read back with typed getters
//   OPENED_BEFORE "yyyy-mm-dd hh:mm:ss", bound as a timestamp parameter

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class JdbcClient {
    interface Step {
        void run() throws Exception;
    }

    static void out(String key, Object value) {
        System.out.println(key + "\t" + clean(value));
    }

    static String clean(Object value) {
        return String.valueOf(value).replace('\n', ' ').replace('\t', ' ');
    }

    static void error(String step, String state, Object message) {
        System.out.println("error\t" + clean(step) + "\t" + clean(state) + "\t" + clean(message));
    }

    static void step(String name, Step body) {
        try {
            body.run();
        } catch (SQLException e) {
            error(name, e.getSQLState(), e.getMessage());
        } catch (Exception e) {
            error(name, "-", e);
        }
    }

    static Connection connect(String port, String cert, String user, String password) throws SQLException {
        String url = "jdbc:postgresql://localhost:" + port + "/sqlgate"
            + "?ssl=true&sslmode=verify-full&sslrootcert=" + cert
            + "&ApplicationName=sqlgate-jdbc-test&connectTimeout=20&socketTimeout=120";
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);
        return DriverManager.getConnection(url, props);
    }

    static String tables(DatabaseMetaData meta, String schema, String pattern, String[] types) throws SQLException {
        List<String> names = new ArrayList<>();
        try (ResultSet rs = meta.getTables(null, schema, pattern, types)) {
            while (rs.next()) {
                names.add(rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
            }
        }
        return String.join(",", names);
    }

    public static void main(String[] args) throws Exception {
        String port = args[0], cert = args[1], user = args[2], password = args[3];
        String privUser = args[4], privPassword = args[5], number = args[6], openedBefore = args[7];

        Connection conn;
        try {
            conn = connect(port, cert, user, password);
        } catch (SQLException e) {
            error("connect", e.getSQLState(), e.getMessage());
            return;
        }
        out("connected", "yes");
        DatabaseMetaData meta = conn.getMetaData();

        step("server-version", () -> out("product", meta.getDatabaseProductName() + " " + meta.getDatabaseProductVersion()));

        step("getSchemas", () -> {
            List<String> names = new ArrayList<>();
            try (ResultSet rs = meta.getSchemas()) {
                while (rs.next()) {
                    names.add(rs.getString("TABLE_SCHEM"));
                }
            }
            out("schemas", String.join(",", names));
        });

        step("getTables", () -> out("tables", tables(meta, "public", "%", new String[] {"TABLE", "VIEW"})));
        // Every type, every schema: what a tool's navigator asks first.
        step("getTables-all", () -> out("tables-all", tables(meta, null, "%", null)));
        step("getTables-forbidden", () -> out("tables-forbidden", tables(meta, null, "sn_hr_core_case", null)));

        step("getColumns", () -> {
            List<String> cols = new ArrayList<>();
            try (ResultSet rs = meta.getColumns(null, "public", "incident", "%")) {
                while (rs.next()) {
                    cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME") + ":" + rs.getInt("DATA_TYPE")
                        + ":" + rs.getInt("ORDINAL_POSITION"));
                }
            }
            out("columns", String.join(",", cols));
        });
        step("getColumns-forbidden", () -> {
            int n = 0;
            try (ResultSet rs = meta.getColumns(null, null, "sn_hr_core_case", "%")) {
                while (rs.next()) {
                    n++;
                }
            }
            out("columns-forbidden", n);
        });
        step("getPrimaryKeys", () -> {
            int n = 0;
            try (ResultSet rs = meta.getPrimaryKeys(null, "public", "incident")) {
                while (rs.next()) {
                    n++;
                }
            }
            out("primary-keys", n);
        });
        step("getTypeInfo", () -> {
            int n = 0;
            try (ResultSet rs = meta.getTypeInfo()) {
                while (rs.next()) {
                    n++;
                }
            }
            out("type-info", n);
        });

        // Typed parameters: int, string, boolean, timestamp. Executed more
        // times than prepareThreshold (5) so the driver switches to a named
        // server-side statement and binary transfer.
        step("prepared-typed", () -> {
            String sql = "SELECT count(*) FROM incident WHERE priority = ? AND number <> ? AND active = ? AND opened_at < ?";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                List<String> counts = new ArrayList<>();
                for (int i = 0; i < 7; i++) {
                    ps.setInt(1, 3);
                    ps.setString(2, "NO-SUCH-NUMBER");
                    ps.setBoolean(3, false);
                    ps.setTimestamp(4, Timestamp.valueOf(openedBefore));
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        counts.add(Long.toString(rs.getLong(1)));
                    }
                }
                out("prepared-counts", String.join(",", counts));
            }
        });
        step("prepared-row", () -> {
            String sql = "SELECT number, priority, active, opened_at, business_duration FROM incident WHERE number = ?";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int i = 0; i < 6; i++) {
                    ps.setString(1, number);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            out("row", "none");
                            continue;
                        }
                        Object duration = rs.getObject(5);
                        out("row", rs.getString(1) + "|" + rs.getInt(2) + "|" + rs.getBoolean(3) + "|" + rs.getTimestamp(4)
                            + "|" + (duration == null ? "null" : duration.toString()));
                    }
                }
            }
        });

        // Streaming: a cursor-backed result set (autocommit off + fetch
        // size) reads the table 100 rows per Execute.
        step("streaming", () -> {
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                st.setFetchSize(100);
                long rows = 0;
                String last = "";
                boolean ordered = true;
                try (ResultSet rs = st.executeQuery("SELECT number, short_description FROM incident ORDER BY number")) {
                    while (rs.next()) {
                        String n = rs.getString(1);
                        if (n.compareTo(last) < 0) {
                            ordered = false;
                        }
                        last = n;
                        rows++;
                    }
                }
                out("streamed-rows", rows);
                out("streamed-ordered", ordered);
            }
            conn.commit();
            conn.setAutoCommit(true);
        });

        step("forbidden-query", () -> {
            try (Statement st = conn.createStatement()) {
                st.executeQuery("SELECT count(*) FROM sn_hr_core_case");
                out("forbidden-query", "answered");
            } catch (SQLException e) {
                out("forbidden-query", e.getSQLState());
            }
        });
        conn.close();

        // The privileged account that holds the HR role sees the table the
        // first account does not: proof the metadata calls can show it.
        step("privileged", () -> {
            try (Connection priv = connect(port, cert, privUser, privPassword)) {
                out("priv-tables", tables(priv.getMetaData(), "public", "%", new String[] {"TABLE", "VIEW"}));
            }
        });
        out("done", "yes");
    }
}
