// Text imports of the web client's stylesheet (Bun embeds it in the compiled binary).
declare module "*.css" {
  const text: string;
  export default text;
}
