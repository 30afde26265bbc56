import re

from hypothesis import given
from hypothesis import strategies as st

from opentelemetry_instrumentation_databricks.sql.statement import QueryAttributes, describe, sanitize, statement_info


def test_string_and_number_literals_become_placeholders():
    assert sanitize("SELECT * FROM t WHERE a = 'secret' AND b = 42 AND c = 1.5e3") == (
        "SELECT * FROM t WHERE a = ? AND b = ? AND c = ?"
    )


def test_double_quoted_strings_are_literals_in_databricks_sql():
    assert sanitize('SELECT "password123" AS x') == "SELECT ? AS x"


def test_backticked_identifiers_and_identifiers_with_digits_survive():
    assert sanitize("SELECT `col 1`, t1.c2 FROM `cat`.`sch`.`t3`") == "SELECT `col 1`, t1.c2 FROM `cat`.`sch`.`t3`"


def test_comments_are_removed_because_they_can_hold_anything():
    assert sanitize("SELECT 1 -- token=abc\n/* key: xyz */ FROM t") == "SELECT ? FROM t"


def test_unterminated_string_is_still_hidden():
    assert sanitize("SELECT * FROM t WHERE a = 'never closed") == "SELECT * FROM t WHERE a = ?"


def test_escaped_quotes_inside_strings_do_not_end_the_literal():
    assert sanitize(r"SELECT 'it\'s a secret' , 'a''b'") == "SELECT ? , ?"


def test_typed_and_hex_literals():
    assert sanitize("SELECT X'0AFF', 10L, 2.5BD, 0x1F, DATE '2026-01-01'") == "SELECT ?, ?, ?, ?, DATE ?"


def test_operation_and_single_collection():
    info = describe("insert into main.sales.orders values (1, 'a')")
    assert (info.operation, info.collection) == ("INSERT", "main.sales.orders")
    assert info.summary == "INSERT main.sales.orders"


def test_join_over_two_tables_names_no_single_collection():
    info = describe("SELECT * FROM a JOIN b ON a.id = b.id")
    assert info.collection is None
    assert info.summary == "SELECT a"


def test_common_table_expression_reports_the_main_operation():
    assert describe("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x").operation == "INSERT"


def test_statement_info_is_cached_per_text():
    assert statement_info("SELECT 1") is statement_info("SELECT 1")


_SECRET = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=6, max_size=20)


@given(secret=_SECRET, number=st.integers(min_value=100000, max_value=10**15), prefix=st.sampled_from(["", "x = "]))
def test_no_literal_survives_sanitizing(secret, number, prefix):
    text = f"SELECT * FROM t WHERE {prefix}'{secret}' OR y = {number} OR z = \"{secret}\""
    sanitized = sanitize(text)
    assert secret not in sanitized
    assert str(number) not in sanitized


@given(st.text(max_size=200))
def test_sanitize_never_raises_and_leaves_no_quoted_text(text):
    sanitized = sanitize(text)
    assert not re.search(r"'[^']+'", sanitized)
    describe(text)


def test_string_ending_in_a_backslash_is_still_hidden():
    assert sanitize("SELECT * FROM t WHERE password = 'hunter2\\") == "SELECT * FROM t WHERE password = ?"
    assert sanitize('SELECT "hunter2\\') == "SELECT ?"


def test_group_by_and_order_by_ordinals_are_column_positions_not_literals():
    assert sanitize("SELECT day, count(*) FROM t WHERE n > 5 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10") == (
        "SELECT day, count(*) FROM t WHERE n > ? GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?"
    )
    assert sanitize("select a from t group by 1, 2 order by 1 asc nulls last") == (
        "select a from t group by 1, 2 order by 1 asc nulls last"
    )


def test_numbers_after_an_order_by_expression_are_still_literals():
    assert sanitize("SELECT * FROM t ORDER BY a + 1") == "SELECT * FROM t ORDER BY a + ?"
    assert sanitize("SELECT * FROM t ORDER BY 1.5") == "SELECT * FROM t ORDER BY ?"


def test_long_literal_lists_collapse_so_a_huge_in_list_stays_short():
    values = ", ".join(str(n) for n in range(100_000))
    sanitized = sanitize(f"SELECT * FROM t WHERE id IN ({values}) AND kind IN ('a', 'b')")
    assert sanitized == "SELECT * FROM t WHERE id IN (?, ?, ?, ...) AND kind IN (?, ?)"


def test_query_text_is_cut_at_the_configured_length_and_says_it_was_cut():
    text = "SELECT " + ", ".join(f"column_{n}" for n in range(1000)) + " FROM t"
    attributes = QueryAttributes("raw", max_length=100).of(text)
    assert attributes["db.query.text"] == text[:100]
    assert attributes["databricks.query.text_original_length"] == len(text)
    short = QueryAttributes("sanitized", max_length=100).of("SELECT 1")
    assert short["db.query.text"] == "SELECT ?" and "databricks.query.text_original_length" not in short
    assert "db.query.text" not in QueryAttributes("off", max_length=100).of(text)
