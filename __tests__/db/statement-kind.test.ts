import { classifyStatement } from '../../db/statement-kind';

describe('classifyStatement', () => {
  test.each([
    ['SELECT * FROM t', 'read'],
    ['  /* c */ select 1', 'read'],
    ['SELECT * FROM t FOR UPDATE', 'other'],
    ['SELECT * FROM t LOCK IN SHARE MODE', 'other'],
    ["SELECT 'for update' AS x", 'read'],
    ['WITH x AS (SELECT 1) DELETE FROM t', 'other'],
    ['INSERT INTO t VALUES (1)', 'other'],
    ['COMMIT', 'commit'],
    ['commit work', 'commit'],
    ['ROLLBACK', 'rollback'],
    ['ROLLBACK TO SAVEPOINT a', 'other'],
    ['ROLLBACK WORK TO a', 'other'],
    ['COMMIT AND CHAIN', 'refused'],
    ['START TRANSACTION READ ONLY', 'begin'],
    ['BEGIN', 'begin'],
    ['BEGIN NOT ATOMIC SELECT 1; END', 'other'],
    ['SET @x = 1', 'set'],
    ['SET @autocommit = 1', 'set'],
    ["SET @s = 'autocommit'", 'set'],
    ['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', 'set'],
    ['SET autocommit = 1', 'refused'],
    ['SET/**/autocommit=1', 'refused'],
    ['SET `autocommit` = 1', 'refused'],
    ['/*!40101 SET autocommit = 1 */', 'refused'],
    ['/*M!100100 SET time_zone = "+01:00" */', 'refused'],
    ['-- x\nSET NAMES latin1', 'refused'],
    ['# x\nLOCK TABLE t WRITE', 'refused'],
    ['SET STATEMENT max_statement_time = 0 FOR SELECT 1', 'refused'],
    ['FLUSH TABLES WITH READ LOCK', 'refused'],
    ['KILL QUERY 5', 'refused'],
    ["XA BEGIN 'x'", 'refused'],
    ['CREATE TABLE t (x INT)', 'other'],
    ["PREPARE s FROM 'SELECT ?'", 'other'],
    ['EXECUTE s', 'other'],
    ["PREPARE s FROM 'SET autocommit = 1'", 'refused'],
    ["PREPARE s FROM 'SET\\nautocommit = 1'", 'refused'],
    ["EXECUTE IMMEDIATE 'KILL 5'", 'refused'],
    ["EXECUTE IMMEDIATE 'COMMIT'", 'refused'],
    ["PREPARE s FROM 'LOCK TABLES t WRITE'", 'refused'],
    ['PREPARE s FROM @sql', 'refused'],
    ["EXECUTE IMMEDIATE CONCAT('KI', 'LL 5')", 'refused'],
  ])('%s → %s', (sql, kind) => {
    expect(classifyStatement(sql).kind).toBe(kind);
  });

  test('names statements for messages', () => {
    expect(classifyStatement('/* why */ create table x (a int)').kind).toBe('other');
    expect(classifyStatement('/* why */ create table x (a int)').name).toBe('CREATE TABLE');
    expect(classifyStatement('LOCK TABLES t READ').name).toBe('LOCK TABLES');
  });

  test('a long statement is classified by its head, except reads and SET', () => {
    const values = Array.from({ length: 5000 }, (_, i) => `(${i}, 'for update')`).join(', ');
    expect(classifyStatement(`INSERT INTO t VALUES ${values}`).kind).toBe('other');
    expect(classifyStatement(`SELECT * FROM t WHERE id IN (${'1, '.repeat(3000)}1) FOR UPDATE`).kind).toBe('other');
    expect(classifyStatement(`SET @a = '${'x'.repeat(5000)}', autocommit = 1`).kind).toBe('refused');
  });
});
