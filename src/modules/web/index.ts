import { Elysia } from "elysia"; export const webModule = () => new Elysia();
