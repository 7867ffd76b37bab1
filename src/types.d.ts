// Text imports of SQL files (Bun embeds them in the compiled binary).
declare module "*.sql" {
  const text: string;
  export default text;
}
