export { waitFor } from "../../shared/wait_for.ts";
