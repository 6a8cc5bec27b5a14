import {
  ApplicationCommandType,
  ContextMenuCommandBuilder,
  InteractionContextType,
  SlashCommandBuilder,
  type RESTPostAPIApplicationCommandsJSONBody,
} from "discord.js";
import { MAX_CAPTION_CHARS, SETTING_KEYS } from "../../core/index.ts";
import { MAX_CLUSTER_CODE_POINTS } from "../../pipeline/render/text.ts";

/**
 * Discord counts an option's length in code points; the caption limit is in user-perceived characters
 * (a Hindi or accented letter is several code points). The option only stops what can never pass; the
 * core's caption rule, the same on every entrance, gives the answer.
 */
const CAPTION_OPTION_MAX = MAX_CAPTION_CHARS * MAX_CLUSTER_CODE_POINTS;

/** An option cannot hold a newline: one is typed as \n or ~n (read by the core's request parser). */
const CAPTION_HOW = "; \\n or ~n starts a new line";

/** /meme's and /morph's `case` choices: capitals (the classic look) or the letters as typed (URLs, @handles, codes). */
export const CAPTION_CASE = { upper: "upper", asTyped: "as typed" } as const;
const captionCase = (o: import("discord.js").SlashCommandStringOption) =>
  o
    .setName("case")
    .setDescription("Captions in capitals (default) or as typed")
    .addChoices({ name: CAPTION_CASE.upper, value: CAPTION_CASE.upper }, { name: CAPTION_CASE.asTyped, value: CAPTION_CASE.asTyped });

/**
 * The one definition of Mimic's Discord commands: `mimic register` deploys exactly this list and the
 * bot's handler dispatches on the same names, so the two cannot drift apart.
 */
export const COMMAND = {
  meme: "meme",
  morph: "morph",
  face: "face",
  mimic: "mimic",
  mimicThis: "Mimic this",
} as const;

const contexts = [InteractionContextType.Guild, InteractionContextType.BotDM];

const meme = new SlashCommandBuilder()
  .setName(COMMAND.meme)
  .setDescription("Put a reaction's expression on your face (save it first with /face save), with optional captions")
  .setContexts(contexts)
  .addAttachmentOption((o) => o.setName("image").setDescription("Reaction image or GIF (default: the latest image in this channel)"))
  .addStringOption((o) => o.setName("top").setDescription(`Top caption${CAPTION_HOW}`).setMaxLength(CAPTION_OPTION_MAX))
  .addStringOption((o) => o.setName("bottom").setDescription(`Bottom caption${CAPTION_HOW}`).setMaxLength(CAPTION_OPTION_MAX))
  .addStringOption(captionCase)
  .addStringOption((o) => o.setName("template").setDescription("Which of your saved faces (default: your default face)").setAutocomplete(true))
  .addIntegerOption((o) => o.setName("intensity").setDescription("How much of the expression, in % (default 100)").setMinValue(0).setMaxValue(100))
  .addStringOption((o) =>
    o
      .setName("mode")
      .setDescription("mimic: copy the expression onto your face; swap: put your face into the image")
      .addChoices({ name: "mimic", value: "mimic" }, { name: "swap", value: "swap" }),
  )
  .addBooleanOption((o) => o.setName("animated").setDescription("Animated GIF output (default: animated for GIF reactions)"));

const morph = new SlashCommandBuilder()
  .setName(COMMAND.morph)
  .setDescription("An animated GIF morphing your face into the reaction's expression")
  .setContexts(contexts)
  .addAttachmentOption((o) => o.setName("image").setDescription("Reaction image (default: the latest image in this channel)"))
  .addStringOption((o) => o.setName("template").setDescription("Which of your saved faces (default: your default face)").setAutocomplete(true))
  .addStringOption((o) => o.setName("top").setDescription(`Top caption${CAPTION_HOW}`).setMaxLength(CAPTION_OPTION_MAX))
  .addStringOption((o) => o.setName("bottom").setDescription(`Bottom caption${CAPTION_HOW}`).setMaxLength(CAPTION_OPTION_MAX))
  .addStringOption(captionCase)
  .addIntegerOption((o) => o.setName("intensity").setDescription("How much of the expression, in % (default 100)").setMinValue(0).setMaxValue(100));

const templateName = (o: import("discord.js").SlashCommandStringOption, description: string) =>
  o.setName("name").setDescription(description).setRequired(true).setAutocomplete(true);

const face = new SlashCommandBuilder()
  .setName(COMMAND.face)
  .setDescription("Manage your saved faces")
  .setContexts(contexts)
  .addSubcommand((s) =>
    s
      .setName("save")
      .setDescription("Save a clear, front-facing photo of your face")
      .addAttachmentOption((o) => o.setName("photo").setDescription("A photo of your face").setRequired(true))
      .addStringOption((o) => o.setName("name").setDescription("A name for this face, e.g. me").setRequired(true).setMaxLength(32)),
  )
  .addSubcommand((s) => s.setName("list").setDescription("List your saved faces"))
  // Asks first, with buttons (bot.ts): a wrong autocomplete pick must not lose a face for good.
  .addSubcommand((s) => s.setName("delete").setDescription("Delete a saved face (asks first)").addStringOption((o) => templateName(o, "Face to delete")))
  .addSubcommand((s) =>
    s.setName("default").setDescription("Choose your default face").addStringOption((o) => templateName(o, "Face to use by default")),
  )
  .addSubcommand((s) =>
    s
      .setName("rename")
      .setDescription("Rename a saved face")
      .addStringOption((o) => templateName(o, "Face to rename"))
      .addStringOption((o) => o.setName("new_name").setDescription("Its new name").setRequired(true).setMaxLength(32)),
  );

const mimic = new SlashCommandBuilder()
  .setName(COMMAND.mimic)
  .setDescription("Mimic: help, usage, settings, your data")
  .setContexts(contexts)
  .addSubcommand((s) => s.setName("help").setDescription("How to start: save your face, then make memes"))
  .addSubcommand((s) => s.setName("usage").setDescription("Your usage today (admins also see the server's)"))
  .addSubcommand((s) =>
    s
      .setName("config")
      .setDescription("Show or change this server's Mimic settings (Manage Server)")
      .addStringOption((o) =>
        o
          .setName("setting")
          .setDescription("Setting to change (leave empty to show all)")
          .addChoices(...SETTING_KEYS.map((k) => ({ name: k, value: k }))),
      )
      .addStringOption((o) => o.setName("value").setDescription("New value, e.g. on/off, 20, add #channel")),
  )
  .addSubcommand((s) =>
    s
      .setName("audit")
      .setDescription("Who made this picture? Attach it, or give its SHA-256 (Manage Server)")
      // The longest form the core reads: "sha-256:" and the 64 hex characters.
      .addStringOption((o) => o.setName("hash").setDescription("Or the picture's SHA-256: 64 hex characters").setMinLength(64).setMaxLength(72))
      .addAttachmentOption((o) => o.setName("picture").setDescription("The picture itself, as Mimic sent it")),
  )
  // Asks first, with buttons (bot.ts): an option ("confirm") deleted at once, before the user saw what would go.
  .addSubcommand((s) => s.setName("forget").setDescription("Delete all your saved faces and usage history (asks first)"));

const mimicThis = new ContextMenuCommandBuilder()
  .setName(COMMAND.mimicThis)
  .setType(ApplicationCommandType.Message)
  .setContexts(contexts);

/** /mimic help: how to start, in the spirit of Telegram's /help. */
export const HELP = [
  "Mimic puts the expression of a reaction picture on your own face.",
  "1. Save your face: /face save with a clear, front-facing photo of you (name it e.g. me).",
  "2. /meme with a reaction image or GIF attached (or right after one was posted here), top and bottom captions optional (\\n or ~n starts a new line; case “as typed” keeps small letters).",
  "/morph makes an animated GIF of your face taking on the reaction's expression.",
  "On any message with a picture: right-click (long-press) → Apps → “Mimic this”.",
  "/face list, default, rename and delete manage your faces; /mimic usage shows today's usage; /mimic forget deletes your data.",
  "Server admins: /mimic config (settings) and /mimic audit (who made a picture).",
].join("\n");

/** JSON bodies for PUT /applications/{app}[/guilds/{guild}]/commands. */
export function commandDefinitions(): RESTPostAPIApplicationCommandsJSONBody[] {
  return [meme.toJSON(), morph.toJSON(), face.toJSON(), mimic.toJSON(), mimicThis.toJSON()];
}
