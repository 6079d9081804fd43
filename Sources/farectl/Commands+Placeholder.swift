let simulateCommands: [Command] = []
let centralCommands: [Command] = []
let journalCommands: [Command] = []
