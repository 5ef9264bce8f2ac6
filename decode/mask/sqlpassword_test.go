package mask

import (
	"strings"
	"testing"
)

// sqlCases pin pattern:sql-password on raw bytes: what is masked and,
// as importantly, what is left alone.
var sqlCases = []struct{ in, want string }{
	// PostgreSQL.
	{"ALTER ROLE app PASSWORD 'hunter2'", "ALTER ROLE app PASSWORD '*******'"},
	{"alter role app with encrypted password 'x1';", "alter role app with encrypted password '**';"},
	{"CREATE USER u WITH LOGIN PASSWORD 'a''b\\'c' VALID UNTIL 'infinity'", "CREATE USER u WITH LOGIN PASSWORD '*******' VALID UNTIL 'infinity'"},
	{"ALTER USER u PASSWORD E'p\\'q'", "ALTER USER u PASSWORD E'****'"},
	{"ALTER USER u PASSWORD $$dollar'pw$$;", "ALTER USER u PASSWORD $$*********$$;"},
	{"ALTER USER u PASSWORD $t$x$$y$t$", "ALTER USER u PASSWORD $t$****$t$"},
	{"ALTER USER u PASSWORD\n\t/* c */ 'pw'", "ALTER USER u PASSWORD\n\t/* c */ '**'"},
	{"ALTER USER u PASSWORD -- new\n'pw'", "ALTER USER u PASSWORD -- new\n'**'"},
	{"ALTER USER u PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a:b'", "ALTER USER u PASSWORD '*******************************'"},
	{"ALTER USER u PASSWORD NULL", "ALTER USER u PASSWORD NULL"},
	{"ALTER USER u PASSWORD ''", "ALTER USER u PASSWORD ''"},
	{`ALTER USER u PASSWORD "ident"`, `ALTER USER u PASSWORD "ident"`}, // an identifier in PostgreSQL
	{"CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'a', password 'fdwpw')", "CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'a', password '*****')"},
	// A wire string: NUL ends an unterminated literal.
	{"Q\x00\x00\x00\x1eALTER USER u PASSWORD 'ab\\'\x00Z\x00\x00\x00\x05I", "Q\x00\x00\x00\x1eALTER USER u PASSWORD '****\x00Z\x00\x00\x00\x05I"},
	{"ALTER USER u PASSWORD 'cut", "ALTER USER u PASSWORD '***"},
	// MySQL / MariaDB.
	{"CREATE USER 'u'@'%' IDENTIFIED BY 's3cr3t'", "CREATE USER 'u'@'%' IDENTIFIED BY '******'"},
	{`create user u identified by "dq"`, `create user u identified by "**"`},
	{"ALTER USER u IDENTIFIED WITH caching_sha2_password BY 'pw2'", "ALTER USER u IDENTIFIED WITH caching_sha2_password BY '***'"},
	{"ALTER USER u IDENTIFIED WITH 'mysql_native_password' AS '*ABCD'", "ALTER USER u IDENTIFIED WITH 'mysql_native_password' AS '*****'"},
	{"ALTER USER u IDENTIFIED VIA ed25519 USING PASSWORD('e1') OR unix_socket", "ALTER USER u IDENTIFIED VIA ed25519 USING PASSWORD('**') OR unix_socket"},
	{"ALTER USER u IDENTIFIED VIA a USING 'h1' OR b USING 'h2'", "ALTER USER u IDENTIFIED VIA a USING '**' OR b USING '**'"},
	{"ALTER USER u IDENTIFIED BY 'new1' REPLACE 'old1'", "ALTER USER u IDENTIFIED BY '****' REPLACE '****'"},
	{"ALTER USER u IDENTIFIED BY RANDOM PASSWORD", "ALTER USER u IDENTIFIED BY RANDOM PASSWORD"},
	{"CREATE USER u IDENTIFIED BY PASSWORD '*6BB4837EB'", "CREATE USER u IDENTIFIED BY PASSWORD '**********'"},
	{"SET PASSWORD = PASSWORD('pp')", "SET PASSWORD = PASSWORD('**')"},
	{`SET PASSWORD = "dq2"`, `SET PASSWORD = "***"`},
	{"SET PASSWORD FOR 'bob'@'localhost' = 'bp'", "SET PASSWORD FOR 'bob'@'localhost' = '**'"},
	{"SELECT OLD_PASSWORD('op'), password ( 'sp' )", "SELECT OLD_PASSWORD('**'), password ( '**' )"},
	{"IDENTIFIED BY _utf8mb4'cs' ", "IDENTIFIED BY _utf8mb4'**' "},
	// Left alone: other words, JSON and prose without a literal.
	{"SELECT password_hash, passwords FROM t WHERE note = 'x'", "SELECT password_hash, passwords FROM t WHERE note = 'x'"},
	{`{"password_reset": true, "hint": "it's"}`, `{"password_reset": true, "hint": "it's"}`},
	{"ALTER USER u PASSWORD EXPIRE INTERVAL 90 DAY", "ALTER USER u PASSWORD EXPIRE INTERVAL 90 DAY"},
	{"unidentified by 'x' identifiedby 'y'", "unidentified by 'x' identifiedby 'y'"},
	{"mypassword 'x'", "mypassword 'x'"},
}

func TestSQLPassword(t *testing.T) {
	m := Default()
	for _, c := range sqlCases {
		b := []byte(c.in)
		n := m.MaskInPlace(b)
		if string(b) != c.want {
			t.Errorf("%q\n got %q\nwant %q", c.in, b, c.want)
		}
		if (n > 0) != (c.in != c.want) {
			t.Errorf("%q: count %d", c.in, n)
		}
	}
	// The rule can be turned off like any other.
	off, err := New(WithRules(Rules{Disable: []string{"pattern:sql-password"}}))
	if err != nil {
		t.Fatal(err)
	}
	if got := off.Text("ALTER ROLE a PASSWORD 'x'"); got != "ALTER ROLE a PASSWORD 'x'" {
		t.Errorf("disabled rule still masks: %q", got)
	}
}

// TestSQLPasswordViews checks the rendering views see, in a target and a
// body, and that the prefilters skip nothing the finder would find.
func TestSQLPasswordViews(t *testing.T) {
	m := Default()
	if got := m.Text("ALTER ROLE app PASSWORD 'hunter2'"); got != "ALTER ROLE app PASSWORD '"+Display+"'" {
		t.Errorf("Text: %q", got)
	}
	slow := slowTwin(m)
	for _, c := range sqlCases {
		sameMasking(t, "default", m, slow, []byte(c.in), true)
		// Just long enough, and cut short one byte at a time.
		for n := range len(c.in) {
			sameMasking(t, "default", m, slow, []byte(c.in[:n]), false)
		}
	}
	// The shortest values the prefilter lets through are found.
	for _, in := range []string{"password 'x", "password=\"x", "password('x", "PASSWORD $$x"} {
		if got := m.Text(in); !strings.Contains(got, Display) {
			t.Errorf("%q not masked: %q", in, got)
		}
	}
}

// FuzzSQLPassword runs the finder on arbitrary input: spans stay inside
// the input, and the prefilters agree with running it unconditionally.
func FuzzSQLPassword(f *testing.F) {
	for _, c := range sqlCases {
		f.Add([]byte(c.in))
	}
	m := Default()
	slow := slowTwin(m)
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, s := range findSQLPassword(in, nil) {
			if s.lo < 0 || s.hi > len(in) || s.lo > s.hi {
				t.Fatalf("span %v outside %d bytes", s, len(in))
			}
		}
		sameMasking(t, "default", m, slow, in, false)
	})
}
